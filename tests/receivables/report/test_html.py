"""The HTML report: self-contained, shows the figures finance needs, escapes every source text."""

from __future__ import annotations

import base64
import re

from tests.receivables.report.hostile import IMG, REPORT_DATE, SCRIPT

from receivables.report import render_html


def _render(result, **meta):
    return render_html(result.rows, result.summary, report_date=REPORT_DATE,
                       run_meta={"run_id": "scheduled__2026-03-03", **meta})


def test_headline_counts_and_currency_totals_are_shown(result):
    html = _render(result)
    assert re.search(r'id="count-exceptions">3<', html)
    assert re.search(r'id="count-rejected">1<', html)
    assert re.search(r'id="count-push-failed">1<', html)
    assert re.search(r'id="count-pushed">3<', html)
    # GBP source total 1234.50 + 200 + 75 + 10, with thousands separators; JPY without decimals.
    assert "1,519.50" in html
    assert "5,000" in html and "5,000.00" not in html


def test_exceptions_come_first_with_reason_action_and_id(result):
    html = _render(result)
    exceptions = result.exceptions
    assert html.index('id="exceptions"') < html.index('id="aging"') < html.index('id="companies"')
    for exception_id in exceptions["exception_id"]:
        assert exception_id in html
    assert "INV-1002" in html and "platform total 210.00 vs source total 200.00" in html
    assert "note_too_long: " in html  # the broken rule opens the reason of a reject
    # Push failed is listed before the amount mismatch (what needs action first).
    assert html.index("Push failed") < html.index("Amount mismatch")


def test_hostile_source_text_is_escaped(result):
    html = _render(result, note="<b>bold</b>")
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script" not in html.lower()


def test_report_is_self_contained_with_an_embedded_png_chart(result):
    html = _render(result)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "http-equiv=\"Content-Security-Policy\"" in html
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "aging chart not embedded"
    assert base64.b64decode(match.group(1)).startswith(b"\x89PNG")


def test_aging_table_shows_open_amounts_per_bucket(result):
    html = _render(result)
    aging = html[html.index('id="aging"'):html.index('id="companies"')]
    # acme GBP: i1 and i2 (and i4) are 29 days overdue, i3 is 121 days; JPY j1 is current.
    assert "1,444.50" in aging  # 1234.50 + 200.00 + 10.00 in 1-30
    assert "75.00" in aging     # 90+
    assert "5,000" in aging


def test_per_company_tables(result):
    html = _render(result)
    companies = html[html.index('id="companies"'):]
    assert "acme &mdash; 4 documents, 3 exceptions" in companies
    assert "nippon &mdash; 1 documents, 0 exceptions" in companies


def test_empty_day_renders(result):
    empty_rows = result.rows.iloc[0:0]
    empty_summary = result.summary.iloc[0:0]
    html = render_html(empty_rows, empty_summary, report_date=REPORT_DATE, run_meta={})
    assert "No exceptions" in html and "No open invoices." in html


def test_long_exception_list_is_cut_with_a_pointer_to_the_csv(result):
    html = render_html(result.rows, result.summary, report_date=REPORT_DATE, run_meta={},
                       max_exception_rows=1)
    assert "Exceptions (3)" in html
    assert "Showing the first 1 of 3 exceptions" in html and "exceptions.csv" in html
    assert html.count('class="x-row exception') == 1
    assert "Push failed" in html.split('id="aging"')[0]  # the worst one is the one kept


# --- a night finance can trust --------------------------------------------------------------------

from decimal import Decimal  # noqa: E402

import pandas as pd  # noqa: E402

from receivables.run_state import summarise_company  # noqa: E402

NAMES = {"acme": "Acme Ltd", "nippon": "Nippon KK"}
DONE = [{"stage": s, "state": "success"} for s in ("reference", "sync", "reconcile")]
REFUSED = [{"stage": "reference", "state": "failed", "error": "the API refused the key (401).",
            "advice": "Check the password of connection codat_default."}]


def test_a_failed_company_opens_the_page_in_red_and_its_figures_are_incomplete(result):
    states = [summarise_company("acme", "Acme Ltd", DONE), summarise_company("nippon", "Nippon KK", REFUSED)]
    html = render_html(result.rows, result.summary, report_date=REPORT_DATE, run_meta={"run_id": "run-2"},
                       company_states=states, company_names=NAMES)
    banner = html[html.index('id="run-failures"'):html.index("</section>", html.index('id="run-failures"'))]
    assert html.index('id="run-failures"') < html.index('id="run-companies"') < html.index('id="headline"')
    assert "Nippon KK" in banner and "reference data failed: the API refused the key (401)." in banner
    assert "Check the password of connection codat_default." in banner
    # Its figures came from another run (the fixture's): said in so many words.
    assert "come from an earlier run (scheduled__2026-03-03)" in banner
    assert "INCOMPLETE" in html[:html.index("<body>") + 600]
    assert html.count('tag tag-incomplete">incomplete') >= 1
    note = html[html.index('id="figures-incomplete"'):]
    assert note.index("Nippon KK") < note.index('id="count-documents"')  # the counts say they are incomplete


def test_a_night_where_every_company_failed_never_says_no_exceptions(result):
    states = [summarise_company("acme", "Acme Ltd", REFUSED), summarise_company("nippon", "Nippon KK", [])]
    html = render_html(result.rows.iloc[0:0], result.summary.iloc[0:0], report_date=REPORT_DATE,
                       run_meta={"run_id": "run-2"}, company_states=states, company_names=NAMES)
    assert "every document agrees" not in html
    assert 'id="no-exceptions-incomplete"' in html and "2 companies did not complete this run" in html
    assert "No figures for this day" in html


def test_a_clean_night_says_complete_without_a_banner(result):
    states = [summarise_company("acme", "Acme Ltd", DONE), summarise_company("nippon", "Nippon KK", DONE)]
    matched = result.rows[result.rows["outcome"] == "matched"]
    html = render_html(matched, result.summary[result.summary["outcome"] == "matched"],
                       report_date=REPORT_DATE,
                       run_meta={"run_id": "scheduled__2026-03-03"}, company_states=states,
                       company_names=NAMES)
    assert 'id="run-failures"' not in html and "Complete: every company synced and reconciled" in html
    assert "No exceptions: every document agrees with the platform." in html


def test_names_numbers_and_plain_words_instead_of_ids_and_programmer_words(result):
    rows = result.rows.copy()
    rows.loc[rows["outcome"] == "rejected", "reason"] = ("missing_currency_rate: currency_rate is None for "
                                                         "company acme")
    html = render_html(rows, result.summary, report_date=REPORT_DATE,
                       run_meta={"run_id": "r", "dry_run": False}, company_names=NAMES)
    assert "Acme Ltd" in html and ">acme<" not in html and "acme &mdash;" not in html
    assert "currency_rate is missing for company Acme Ltd" in html and "is None" not in html
    assert "Dry run: <strong>no</strong>" in html and "False" not in html
    assert "(none)" not in html
    # The rejected invoice shows its number and its source total with the currency.
    rejected = html[html.index('id="section-rejected"'):]
    assert "75.00 GBP" in rejected[:rejected.index("</details>")]


def test_exceptions_are_ordered_by_money_at_stake_within_each_outcome(result):
    rows = result.rows.copy()
    extra = rows[rows["outcome"] == "rejected"].iloc[[0, 0, 0]].copy()
    extra["document_key"] = extra["source_id"] = ["r-small", "r-big", "r-mid"]
    extra["document_number"] = ["SMALL", "BIG", "MID"]
    extra["exception_id"] = ["EX-S", "EX-B", "EX-M"]
    extra["source_total"] = [Decimal("5.00"), Decimal("90000.00"), Decimal("300.00")]
    html = render_html(pd.concat([rows, extra], ignore_index=True), result.summary, report_date=REPORT_DATE,
                       run_meta={})
    section = html[html.index('id="section-rejected"'):]
    section = section[:section.index("</details>")]
    assert section.index("BIG") < section.index("MID") < section.index("SMALL")
    assert "90,000.00 GBP" in section


def test_each_outcome_has_a_section_that_folds_when_long(result):
    rows = result.rows.copy()
    many = pd.concat([rows[rows["outcome"] == "rejected"]] * 40, ignore_index=True)
    many["document_key"] = [f"k{i}" for i in range(len(many))]
    html = render_html(pd.concat([rows, many], ignore_index=True), result.summary, report_date=REPORT_DATE,
                       run_meta={})
    assert '<details class="section" id="section-rejected">' in html  # 41 rows: folded
    assert '<details class="section" id="section-push_failed" open>' in html
    assert 'id="count-rejected">41<' in html


def test_the_trend_shows_the_last_nights_from_earlier_summaries(result):
    earlier = []
    for days_back, count in ((2, 7), (1, 4)):
        day = pd.Timestamp(REPORT_DATE) - pd.Timedelta(days=days_back)
        earlier.append(dict(report_date=day, company_id="acme", outcome="rejected", currency="GBP",
                            document_count=count, amount_open=Decimal("12345.60"),
                            amount_overdue=Decimal("2000.00")))
    html = render_html(result.rows, result.summary, report_date=REPORT_DATE, run_meta={},
                       history=pd.DataFrame(earlier))
    trend = html[html.index('id="trend"'):html.index('id="companies"')]
    assert "The last 3 nights" in trend
    assert "2026-02-28" in trend and "2026-03-01" in trend and "12,345.60" in trend and "2,000.00" in trend


def test_no_trend_without_an_earlier_night(result):
    assert 'id="trend"' not in _render(result)
