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
    html = render_html(result.rows, result.summary, report_date=REPORT_DATE, run_meta={}, max_exception_rows=1)
    assert "Exceptions (3)" in html
    assert "Showing the first 1 of 3 exceptions" in html and "exceptions.csv" in html
    assert html.count('class="x-row exception') == 1
    assert "Push failed" in html.split('id="aging"')[0]  # the worst one is the one kept
