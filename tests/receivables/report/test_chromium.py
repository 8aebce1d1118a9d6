"""Open the HTML report in headless Chromium and check what a reader actually gets.

Layout facts are measured by a tiny probe: a copy of the report with the policy meta tag taken out and
a script added that writes its measurements into the page, read back with ``--dump-dom``. The report
itself never carries a script (its policy forbids them); the copy only exists in the test's folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.receivables.report import volume

from receivables.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1400

_PROBE = """<script>
window.addEventListener('load', () => {
  const root = document.documentElement;
  const measure = () => ({scrollWidth: root.scrollWidth, clientWidth: root.clientWidth});
  const banner = document.getElementById('run-failures');
  const folded = measure();
  document.querySelectorAll('details').forEach(d => d.open = true);
  const unfolded = measure();
  const visible = () => [...document.querySelectorAll('tr.x-row')]
    .filter(r => r.getClientRects().length).length;
  const filters = {all: visible()};
  const company = document.querySelector('input[name=company]:not(#fc-all)');
  if (company) { company.checked = true; filters.oneCompany = visible(); filters.company = company.id;
                 document.getElementById('fc-all').checked = true; }
  const largest = document.getElementById('f-largest');
  if (largest) { largest.checked = true; filters.largest = visible(); largest.checked = false; }
  const firstSection = document.querySelector('section:not(#run-failures)');
  const facts = {folded, unfolded, innerWidth: window.innerWidth,
    banner: banner ? {top: banner.getBoundingClientRect().top, text: banner.innerText} : null,
    firstSectionTop: firstSection.getBoundingClientRect().top,
    status: document.getElementById('run-status').innerText,
    rows: document.querySelectorAll('tr.x-row').length, filters};
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify(facts);
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: install it (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium); set CI=1 to make "
                    "this fail")
    return CHROMIUM


def _run(args: list[str], page: Path, profile: Path) -> str:
    command = [
        str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--window-size={WIDTH},900", *args, page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _dump_dom(html_path: Path, profile: Path) -> str:
    return _run(["--dump-dom"], html_path, profile)


def _layout(html_path: Path, profile: Path) -> dict:
    """The probe's measurements of the report at WIDTH pixels."""
    page = html_path.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = html_path.with_name("probe.html")
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _dump_dom(probe, profile)
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the layout probe did not run"
    return json.loads(match.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def test_browser_shows_the_exceptions_and_the_injected_script_as_text(result, tmp_path):
    paths = write_report(result.rows, result.summary, out_dir=tmp_path / "reports", report_date="2026-03-02",
                         run_meta={"run_id": "scheduled__2026-03-03"})
    dom = _dump_dom(paths.html, tmp_path / "profile")

    assert "INV-1002" in dom
    for exception_id in result.exceptions["exception_id"]:
        assert exception_id in dom
    # The hostile invoice number is visible as text, and neither it nor the onerror image ran.
    assert "&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=" in dom
    assert 'data-pwned="1"' not in dom
    assert "<script" not in dom.lower()
    assert 'src="data:image/png;base64,' in dom


@pytest.mark.parametrize("exceptions", [3, 1600])
def test_a_failed_night_opens_with_the_banner_and_fits_1400_pixels(exceptions, tmp_path):
    run = volume.build_volume(exceptions=exceptions, matched=40)
    paths = write_report(run.rows, run.summary, out_dir=tmp_path / "reports", report_date=volume.REPORT_DATE,
                         run_meta={"run_id": "scheduled__2026-03-03", "companies": 3, "dry_run": False},
                         company_states=volume.failed_states(), company_names=volume.COMPANIES)
    facts = _layout(paths.html, tmp_path / "profile")

    assert facts["rows"] == exceptions
    for state in ("folded", "unfolded"):  # no horizontal scroll, with every section closed or open
        assert facts[state]["scrollWidth"] <= facts["innerWidth"] == WIDTH, facts
    banner = facts["banner"]
    assert banner is not None, "a failed night must open with the red banner"
    assert banner["top"] < facts["firstSectionTop"] and banner["top"] < 120
    assert "Nippon Trading KK" in banner["text"] and "the API refused the key (401)" in banner["text"]
    assert "Check the password of connection codat_default" in banner["text"]
    assert "Brick & Mortar GmbH" in banner["text"] and "did not run" in banner["text"]
    assert facts["status"].startswith("INCOMPLETE")
    # The CSS-only filters work in a real browser (sections unfolded by the probe): one company's rows,
    # or the largest 25 of each outcome.
    filters = facts["filters"]
    assert filters["all"] == exceptions
    if exceptions > 100:
        assert 0 < filters["oneCompany"] < exceptions and abs(filters["oneCompany"]
                                                              - exceptions / 3) < exceptions / 6
        assert filters["largest"] == 25 * len(set(run.exceptions["outcome"]))


def test_a_clean_night_has_no_banner(tmp_path):
    run = volume.build_volume(exceptions=3, matched=10)
    paths = write_report(run.rows, run.summary, out_dir=tmp_path / "reports", report_date=volume.REPORT_DATE,
                         run_meta={"run_id": "scheduled__2026-03-03"}, company_states=volume.ok_states(),
                         company_names=volume.COMPANIES)
    facts = _layout(paths.html, tmp_path / "profile")
    assert facts["banner"] is None
    assert facts["status"].startswith("Complete")
    assert facts["unfolded"]["scrollWidth"] <= WIDTH
