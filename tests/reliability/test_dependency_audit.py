"""Dependency audit: the pinned requirements checked against known vulnerabilities, offline.

Every line of ``requirements.txt`` must pin one exact version, and no pin may fall in a vulnerable range
of the advisory snapshot committed beside this file (``advisories.json``: its ``refresh`` field says how
to update it online). A finding fails the suite unless ``audit-ignore.txt`` lists its id with a reason.
This check needs no network, so it cannot be skipped away; it is only as current as the snapshot, whose
date the test prints. The live database can be asked too, on request: ``RS_AUDIT_ONLINE=1`` runs
``pip-audit`` and then fails (not skips) when the vulnerability service cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[2]
IGNORE_FILE = Path(__file__).with_name("audit-ignore.txt")
SNAPSHOT = Path(__file__).with_name("advisories.json")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)$")


def pinned_requirements(text: str) -> dict[str, Version]:
    """``{canonical name: version}`` of a requirements file; anything but ``name==version`` is an error
    (a range cannot be audited offline: which version would CI install?)."""
    pins: dict[str, Version] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"requirements.txt:{number}: {line!r} is not pinned to one version "
                             "(name==x.y.z)")
        try:
            pins[canonicalize_name(match.group(1))] = Version(match.group(3))
        except InvalidVersion:
            raise ValueError(f"requirements.txt:{number}: {match.group(3)!r} is not a version") from None
    return pins


def load_snapshot(path: Path = SNAPSHOT) -> dict:
    """The advisory snapshot, checked for the fields the audit relies on."""
    snapshot = json.loads(path.read_text())
    for key in ("taken_on", "source", "refresh", "advisories"):
        if not snapshot.get(key):
            raise ValueError(f"{path.name}: '{key}' is missing")
    for advisory in snapshot["advisories"]:
        name = advisory.get("id", "?")
        if not advisory.get("package") or not advisory.get("ranges"):
            raise ValueError(f"{path.name}: {name} needs a package and at least one range")
        for bounds in advisory["ranges"]:
            Version(bounds["introduced"])  # "0" means every release before the fix
            Version(bounds["fixed"])
    return snapshot


def affected(version: Version, ranges: list[dict[str, str]]) -> bool:
    """Whether ``version`` lies in one of the ``[introduced, fixed)`` ranges."""
    return any(Version(r["introduced"]) <= version < Version(r["fixed"]) for r in ranges)


def snapshot_findings(pins: dict[str, Version], advisories: list[dict],
                      accepted: dict[str, str]) -> list[str]:
    """One line per advisory of the snapshot that affects a pin and is not accepted by id or alias."""
    findings = []
    for advisory in advisories:
        version = pins.get(canonicalize_name(advisory["package"]))
        if version is None or not affected(version, advisory["ranges"]):
            continue
        if {advisory["id"], *advisory.get("aliases", [])} & set(accepted):
            continue
        fixed = ", ".join(r["fixed"] for r in advisory["ranges"] if Version(r["introduced"]) <= version)
        findings.append(f"{advisory['package']} {version}: {advisory['id']} {advisory.get('summary', '')} "
                        f"(fixed in {fixed})")
    return findings


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
                findings.append(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in "
                                f"{fixed})")
    return findings


def _pip_audit() -> list[str]:
    beside = Path(sys.executable).with_name("pip-audit")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pip-audit")
    if found:
        return [found]
    pytest.fail("pip-audit is not installed (pip install -r requirements.txt)")


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
        "jinja2 3.1.0: PYSEC-2099-1 (fixed in 3.1.9)",
        "jinja2 3.1.0: GHSA-aaaa-bbbb-cccc (fixed in no fix yet)"]
    assert unaccepted_findings(audited,
                               {"CVE-2099-0001": "not reachable",
                                "GHSA-aaaa-bbbb-cccc": "sandbox only"}) == []


def test_every_requirement_is_pinned_to_one_version():
    pins = pinned_requirements((REPO / "requirements.txt").read_text())
    assert {"apache-airflow", "jinja2", "aiohttp", "starlette"} <= set(pins)
    with pytest.raises(ValueError, match="requirements.txt:2: 'jinja2>=3.1' is not pinned"):
        pinned_requirements("httpx==0.28.1\njinja2>=3.1\n")


def test_the_snapshot_check_finds_a_pin_on_a_vulnerable_release():
    advisories = load_snapshot()["advisories"]
    pins = pinned_requirements("Jinja2==3.1.4\naiohttp==3.12.14\npydantic==2.3.0\n")
    findings = snapshot_findings(pins, advisories, {})
    assert [f.split(":")[0] for f in findings] == ["jinja2 3.1.4"] * 3 + ["pydantic 2.3.0"]
    assert "GHSA-cpwx-vrp4-4pq7" in findings[2] and "(fixed in 3.1.6)" in findings[2]
    accepted = {"CVE-2024-3772": "by alias", "GHSA-q2x7-8rv6-6q7h": "by id", "CVE-2025-27516": "by alias"}
    assert [f.split(" ")[2] for f in snapshot_findings(pins, advisories, accepted)] == ["GHSA-gmj6-6f8f-6699"]


def test_pinned_dependencies_have_no_known_vulnerabilities_in_the_snapshot():
    snapshot = load_snapshot()
    pins = pinned_requirements((REPO / "requirements.txt").read_text())
    findings = snapshot_findings(pins, snapshot["advisories"], accepted_vulnerabilities())
    covered = {canonicalize_name(a["package"]) for a in snapshot["advisories"]} & set(pins)
    print(f"[reliability] dependency audit (snapshot of {snapshot['taken_on']}): {len(pins)} pins, "
          f"{len(covered)} with advisories on record, {len(findings)} finding(s)")
    assert not findings, ("known vulnerabilities in pinned dependencies (upgrade the pin, or list the id "
                          "with a reason in audit-ignore.txt):\n" + "\n".join(findings))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RS_AUDIT_ONLINE") != "1",
                    reason="online audit not requested (RS_AUDIT_ONLINE=1); the offline snapshot check ran")
def test_pinned_dependencies_have_no_known_vulnerabilities_online():
    command = _pip_audit() + ["-r", str(REPO / "requirements.txt"), "--no-deps", "--disable-pip",
                              "--format", "json", "--progress-spinner", "off", "--timeout", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pip-audit could not reach the vulnerability service: {done.stderr.strip()[-500:]}")
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    assert audited, f"pip-audit audited nothing: {dependencies[:1] or done.stderr.strip()[-300:]}"
    findings = unaccepted_findings(audited, accepted_vulnerabilities())
    print(f"[reliability] dependency audit (online): {len(audited)} audited, "
          f"{len(dependencies) - len(audited)} not auditable, {len(findings)} finding(s)")
    assert not findings, ("known vulnerabilities in pinned dependencies (upgrade the pin, or list the id "
                          "with a reason in audit-ignore.txt; add the advisory to advisories.json):\n"
                          + "\n".join(findings))
