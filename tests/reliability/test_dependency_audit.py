"""Dependency audit: the pinned requirements checked against the known-vulnerability database.

Runs ``pip-audit`` on ``requirements.txt`` (pins only, nothing installed). When the vulnerability service
cannot be reached (offline CI, a mirror without the JSON API) the test is skipped with the reason; a
finding fails it unless ``tests/reliability/audit-ignore.txt`` lists its id with a reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IGNORE_FILE = Path(__file__).with_name("audit-ignore.txt")


def accepted_vulnerabilities(path: Path = IGNORE_FILE) -> dict[str, str]:
    """``{id: reason}`` from the ignore file; an entry without a reason is an error."""
    accepted: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name}:{number}: {vuln_id} has no reason; say why it is accepted")
        accepted[vuln_id.strip()] = reason.strip()
    return accepted


def unaccepted_findings(dependencies: list[dict], accepted: dict[str, str]) -> list[str]:
    """One line per vulnerability of an audited dependency whose id (or alias) is not accepted."""
    findings = []
    for dependency in dependencies:
        for vuln in dependency.get("vulns", []):
            if not {vuln["id"], *vuln.get("aliases", [])} & set(accepted):
                fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
                findings.append(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    return findings


def _pip_audit() -> list[str]:
    beside = Path(sys.executable).with_name("pip-audit")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pip-audit")
    if found:
        return [found]
    pytest.skip("pip-audit is not installed (pip install -r requirements.txt)")


def test_ignore_file_entries_carry_a_reason(tmp_path):
    accepted_vulnerabilities()  # the real file parses
    bad = tmp_path / "ignore.txt"
    bad.write_text("# comment\nGHSA-aaaa-bbbb-cccc\n")
    with pytest.raises(ValueError, match="no reason"):
        accepted_vulnerabilities(bad)


def test_findings_fail_unless_accepted_by_id_or_alias():
    audited = [{"name": "jinja2", "version": "3.1.0", "vulns": [
        {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fix_versions": ["3.1.9"]},
        {"id": "GHSA-aaaa-bbbb-cccc", "aliases": [], "fix_versions": []}]}]
    assert unaccepted_findings(audited, {}) == [
        "jinja2 3.1.0: PYSEC-2099-1 (fixed in 3.1.9)", "jinja2 3.1.0: GHSA-aaaa-bbbb-cccc (fixed in no fix yet)"]
    assert unaccepted_findings(audited, {"CVE-2099-0001": "not reachable", "GHSA-aaaa-bbbb-cccc": "sandbox only"}) == []


@pytest.mark.slow
def test_pinned_dependencies_have_no_known_vulnerabilities():
    command = _pip_audit() + ["-r", str(REPO / "requirements.txt"), "--no-deps", "--disable-pip",
                              "--format", "json", "--progress-spinner", "off", "--timeout", "10"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit: the vulnerability service did not answer within 180 s")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.skip(f"pip-audit could not reach the vulnerability service: {done.stderr.strip()[-500:]}")
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        reason = dependencies[0]["skip_reason"] if dependencies else done.stderr.strip()[-300:]
        pytest.skip(f"pip-audit audited nothing; the vulnerability service is unreachable ({reason})")
    findings = unaccepted_findings(audited, accepted_vulnerabilities())
    skipped = len(dependencies) - len(audited)
    print(f"[reliability] dependency audit: {len(audited)} audited, {skipped} not auditable, "
          f"{len(findings)} finding(s)")
    assert not findings, ("known vulnerabilities in pinned dependencies (upgrade the pin, or list the id with "
                          "a reason in audit-ignore.txt):\n" + "\n".join(findings))
