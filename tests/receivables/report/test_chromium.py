"""Open the HTML report in headless Chromium and check what a reader actually gets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from receivables.report import write_report

CHROMIUM = Path("/usr/bin/chromium")


def _chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: install it (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium); set CI=1 to make this fail")
    return CHROMIUM


def _dump_dom(html_path: Path, profile: Path) -> str:
    command = [
        str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--dump-dom", html_path.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


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
