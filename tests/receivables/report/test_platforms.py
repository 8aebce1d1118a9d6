"""The report names each company's accounting platform (issue 16): in the run's company table and on
each company's section, escaped like every text the API gives, and "not known yet" before a pull."""

from __future__ import annotations

import re

from tests.receivables.report.hostile import REPORT_DATE, SCRIPT

from receivables.report import render_html, write_report


def _render(result, platforms):
    return render_html(result.rows, result.summary, report_date=REPORT_DATE, run_meta={"run_id": "r1"},
                       company_platforms=platforms)


def _companies(result) -> list[str]:
    return sorted(set(result.summary["company_id"].astype(str)))


def test_each_company_shows_its_platform(result):
    first, *rest = _companies(result)
    platforms = {first: "QuickBooks Online", **{c: "Oracle NetSuite" for c in rest}}
    html = _render(result, platforms)
    table = html[html.index('id="run-companies"'):html.index("</section>", html.index('id="run-companies"'))]
    assert "<th>Platform</th>" in table
    assert re.search(r'<td class="platform">QuickBooks Online</td>', table)
    sections = html[html.index('id="companies"'):]
    assert '<span class="platform">on QuickBooks Online</span>' in sections
    if rest:
        assert '<span class="platform">on Oracle NetSuite</span>' in sections


def test_a_company_whose_platform_is_not_known_yet_says_so(result):
    html = _render(result, None)
    assert '<td class="platform">not known yet</td>' in html
    assert '<span class="platform">' not in html


def test_the_platform_name_is_escaped(result):
    html = _render(result, {c: SCRIPT for c in _companies(result)})
    assert SCRIPT not in html and "<script" not in html.lower()


def test_write_report_passes_the_platforms_on(result, tmp_path):
    company = _companies(result)[0]
    paths = write_report(result.rows, result.summary, out_dir=tmp_path, report_date=REPORT_DATE,
                         run_meta={"run_id": "r1"}, company_platforms={company: "Xero"})
    assert '<td class="platform">Xero</td>' in paths.html.read_text(encoding="utf-8")
