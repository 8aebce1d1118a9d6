"""Run the Codat sandbox as a real subprocess, exactly as a user would, and drive its admin API.

Used by ``make demo`` / ``make sync`` (the local stack) and by the tests' fixtures::

    with SandboxProcess(workdir, push_delay_ms=0, daily_quota=100).start() as proc:
        company = proc.admin.create_company("Acme", "GBP")
        with proc.client() as http:          # httpx.Client with base URL and Basic auth set
            http.get(f"/companies/{company['id']}/data/accounts")

The sandbox prints ``Base URL: …`` and ``API key: …`` on start; both are read from its stdout file.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 30.0
# Codat's OpenAPI files beside the checkout (never copied into the repo), as the contract tests use them.
SHARED_OAS_DIR = REPO_ROOT.parent / "shared" / "codat"


def real_schemas_dir() -> str | None:
    """The folder of Codat's OpenAPI files for ``--oas-dir`` (``$CODAT_OAS_DIR``, else ../shared/codat), if
    any.

    Parsing them costs a sandbox start ≈ 1.3 s of CPU (+17 MB), so the demo opts in; tests start many
    sandboxes and keep the built-in schemas unless they ask.
    """
    for folder in (os.environ.get("CODAT_OAS_DIR"), SHARED_OAS_DIR):
        if folder and (Path(folder) / "Codat-Accounting.yaml").is_file():
            return str(folder)
    return None


class AdminClient:
    """A small client for the sandbox's ``/admin`` API (loopback only, no API key)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings (see ``codat_sandbox.faults.FaultConfig``)."""
        return self._call("PUT", "/admin/faults", settings)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("PUT", "/admin/faults", {})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/admin/faults")

    def stats(self) -> dict[str, Any]:
        """``{"requests": {"METHOD /route/template": n}, "requestsByStatus": {...}, "total": n}``."""
        return self._call("GET", "/admin/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._call("POST", "/admin/stats/reset")

    def create_company(self, name: str, base_currency: str = "GBP", platform: str = "Xero",
                       company_id: str | None = None) -> dict[str, Any]:
        """A company with seeded reference data; the result carries ``id`` and ``connectionId``."""
        body: dict[str, Any] = {"name": name, "baseCurrency": base_currency, "platform": platform}
        if company_id:
            body["id"] = company_id
        return self._call("POST", "/admin/companies", body)

    def insert_record(self, company_id: str, data_type: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a raw record (no validation), e.g. an invoice the warehouse does not know."""
        return self._call("POST", f"/admin/companies/{company_id}/records/{data_type}", record)

    def patch_record(self, company_id: str, data_type: str, record_id: str, **fields: Any) -> dict[str, Any]:
        """Overwrite top-level fields of a record, e.g. ``totalAmount=99``."""
        return self._call("PATCH", f"/admin/companies/{company_id}/records/{data_type}/{record_id}", fields)

    def delete_record(self, company_id: str, data_type: str, record_id: str) -> dict[str, Any]:
        """Mark a record ``metadata.isDeleted = true``."""
        return self._call("DELETE", f"/admin/companies/{company_id}/records/{data_type}/{record_id}")

    def age_idempotency(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/admin/idempotency/age", {"seconds": seconds})

    def force_operation_status(self, push_operation_key: str, status: str) -> dict[str, Any]:
        return self._call("POST", f"/admin/operations/{push_operation_key}/status", {"status": status})

    def records(self, company_id: str, data_type: str) -> list[dict[str, Any]]:
        """Every record as the platform holds it: no read-after-write lag, deleted ones included."""
        return self._call("GET", f"/admin/companies/{company_id}/records/{data_type}")

    def set_connection_status(self, company_id: str, status: str,
                              after_pushes: int | None = None) -> dict[str, Any]:
        """``Linked``/``Unlinked``/``Deauthorized``/``PendingAuth`` now, or after N more accepted pushes."""
        return self._call("PUT", f"/admin/companies/{company_id}/connection",
                          {"status": status, "afterPushes": after_pushes})

    def set_syncing(self, company_id: str, seconds: float | None = None,
                    data_types: list[str] | None = None) -> dict[str, Any]:
        """The company's data is still syncing (reads answer 409) for ``seconds`` (None: until 0 is set)."""
        return self._call("PUT", f"/admin/companies/{company_id}/syncing",
                          {"seconds": seconds, "dataTypes": data_types})

    def set_platform(self, company_id: str, **settings: Any) -> dict[str, Any]:
        """Change a company's platform rules: multiCurrency, lockDate, optionsMode, optionsDataTypes."""
        return self._call("PUT", f"/admin/companies/{company_id}/platform", settings)

    def set_quota(self, daily_quota: int | None, used: int | None = None) -> dict[str, Any]:
        return self._call("PUT", "/admin/quota", {"dailyQuota": daily_quota, "used": used})

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/admin/reset")

    def close(self) -> None:
        self.http.close()


def _cli_flags(flags: dict[str, Any], workdir: Path) -> list[str]:
    args: list[str] = []
    for name, value in flags.items():
        if value is None or value is False:
            continue
        option = "--" + name.replace("_", "-")
        if name == "faults" and isinstance(value, dict):
            path = workdir / "sandbox-faults.json"
            path.write_bytes(orjson.dumps(value))
            value = path
        args += [option] if value is True else [option, str(value)]
    return args


class SandboxProcess:
    """One running ``python -m codat_sandbox serve`` subprocess."""

    def __init__(self, workdir: Path, **flags: Any) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        flags.setdefault("admin", True)
        flags.setdefault("state", str(self.workdir / "sandbox-state.db"))
        flags.setdefault("port", 0)
        self.flags = flags
        self.base_url = ""
        self.api_key = ""
        self.admin: AdminClient | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def __repr__(self) -> str:  # the key stays out of reprs
        return f"SandboxProcess(base_url={self.base_url!r})"

    @property
    def auth_header(self) -> str:
        return "Basic " + base64.b64encode(self.api_key.encode()).decode()

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` for the API with base URL and auth set."""
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.base_url, headers={"Authorization": self.auth_header}, **kwargs)

    def live_records(self, company_id: str, data_type: str) -> list[dict[str, Any]]:
        """Every record of a data type that is not deleted, as the platform holds it.

        Read through the admin API: the public one may lag behind writes (``--read-lag-seconds``) and
        reads some types (direct costs, bank accounts) only per connection.
        """
        assert self.admin is not None, "start the sandbox first"
        return [r for r in self.admin.records(company_id, data_type)
                if not (r.get("metadata") or {}).get("isDeleted")]

    def start(self) -> SandboxProcess:
        self._starts += 1
        out = self.workdir / f"sandbox-{self._starts}.out"
        err = self.workdir / f"sandbox-{self._starts}.log"
        env = dict(os.environ)
        include = str(REPO_ROOT / "include")
        env["PYTHONPATH"] = include + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        flags = dict(self.flags)
        # The key goes through the environment, never the command line (visible to `ps`).
        if flags.get("api_key"):
            env["CODAT_SANDBOX_API_KEY"] = str(flags.pop("api_key"))
        command = [sys.executable, "-m", "codat_sandbox", "serve", *_cli_flags(flags, self.workdir)]
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=self.workdir)
        self._read_banner(out, err)
        self.admin = AdminClient(self.base_url)
        self._wait_ready()
        return self

    def _read_banner(self, out: Path, err: Path) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        assert self.process is not None
        while time.monotonic() < deadline:
            lines = out.read_text().splitlines()
            found = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines if ": " in line}
            if "Base URL" in found and "API key" in found:
                self.base_url, self.api_key = found["Base URL"], found["API key"]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the sandbox did not start; its log:\n{err.read_text()[-4000:]}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(base_url=self.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                try:
                    http.get("/companies", headers={"Authorization": self.auth_header})
                    return
                except httpx.TransportError:
                    time.sleep(0.02)
        self.stop()
        raise RuntimeError("the sandbox did not answer in time")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def restart(self) -> SandboxProcess:
        """Stop and start again on the same port with the same state file and API key."""
        port = int(self.base_url.rsplit(":", 1)[1])
        self.stop()
        self.flags["port"] = port
        self.flags["api_key"] = self.api_key
        return self.start()

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
