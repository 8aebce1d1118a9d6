"""Security: no secret in anything a run leaves behind, auth on every API route, a guarded admin API,
parameterized SQL only, validated identifiers from configuration, and an HTML report that escapes
source text.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import logging
import re
import secrets
import uuid
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from receivables import jobs
from receivables.warehouse import WarehouseSettings, create_warehouse_engine, io, schema
from tests.reliability.harness import CapturedText, build_world, close_world, run_day

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 20)
T = schema.metadata.tables


# -- secrets --------------------------------------------------------------------------------------

@pytest.fixture
def secret_warehouse(pg_database_url):
    """A schema owned by a fresh role with a password; settings whose URL carries that password."""
    role = f"rs_secret_{uuid.uuid4().hex[:8]}"
    password = f"Pw-{secrets.token_hex(12)}"
    schema_name = f"s_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_database_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema_name}" AUTHORIZATION {role}')
    url = make_url(pg_database_url).set(username=role, password=password)
    try:
        yield WarehouseSettings.from_url(url, search_path=schema_name, pool_size=2), password
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def _forms(secret: str) -> list[str]:
    """The secret as it could leak: plain, Basic-auth encoded, URL-embedded."""
    return [secret, base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"x:{secret}".encode()).decode()[4:]]


@pytest.mark.postgres
def test_no_secret_in_logs_exceptions_reports_ledger_or_sandbox_log(tmp_path, secret_warehouse, caplog,
                                                                    capsys):
    settings, password = secret_warehouse
    api_key = f"rs-KEY-{secrets.token_hex(16)}"
    world = build_world(tmp_path, settings, days=(DAY,),
                        sandbox_flags={"api_key": api_key, "log_level": "debug"})
    caplog.set_level(logging.DEBUG)
    # Also straight from the pipeline's logger: caplog misses records if Airflow reconfigured logging.
    pipeline_log, captured = logging.getLogger("receivables"), CapturedText()
    pipeline_log.addHandler(captured)
    try:
        # Faults make the client log retries and errors; a company with a wrong connection fails loudly.
        world.sandbox.admin.set_faults(rate_500=0.2, lose_response_rate=0.2, duration_seconds=2, seed=9)
        io.write_frame(world.engine, T["ar_companies"], pd.DataFrame([{
            "company_id": "no-such-company", "connection_id": "no-such-connection", "name": "Ghost Ltd",
            "base_currency": "GBP", "active": True}]))
        first = run_day(world, DAY, world.codat_settings())
        assert "no-such-company" in first.failures  # the failure path ran
        assert "retrying" in captured.text, "the faults should have made the client log retries"
        texts = [caplog.text, captured.text, capsys.readouterr().out, repr(first), repr(settings),
                 str(settings), repr(world.codat_settings())]
        for record in caplog.records:
            texts += [record.getMessage(), str(record.exc_info[1]) if record.exc_info else ""]
        # A warehouse that refuses the connection: the error text must not carry the password.
        broken = create_warehouse_engine(settings.model_copy(update={"database": "rs_no_such_db"}))
        with pytest.raises(Exception) as refused:
            jobs.plan_run(broken, settings=world.sync_settings(), run_id="x",
                          params={"business_date": "2026-11-20"})
        broken.dispose()
        texts += [str(refused.value), repr(refused.value)]
        for path in sorted(world.report_dir.rglob("*")):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
        for path in sorted((tmp_path / "sandbox").glob("sandbox-*.log")):
            texts.append(path.read_text(errors="replace"))
        for table in schema.metadata.sorted_tables:
            frame = io.read_frame(world.engine, table)
            texts.append(frame.to_csv(index=False))
    finally:
        pipeline_log.removeHandler(captured)
        close_world(world)
    blob = "\n".join(texts)
    assert len(blob) > 10_000, "too little was captured to prove anything"
    for secret in (api_key, password):
        for form in _forms(secret):
            assert form not in blob, ("a secret leaked into logs, exceptions, reports, tables or the "
                                      "sandbox log")
    print(f"[reliability] secrets: {len(blob):,} characters of logs, reports, tables and sandbox log checked")


# -- the sandbox's doors --------------------------------------------------------------------------

def _sandbox(admin: bool):
    from codat_sandbox.app import Sandbox
    from codat_sandbox.store import Store

    return Sandbox(Store(None), api_key="right-key", admin=admin)


def _call(app, method: str, path: str, *, client=("127.0.0.1", 50000), headers=None) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            response = await http.request(method, path, headers=headers or {},
                                           content=b"{}" if method in ("POST", "PUT", "PATCH") else None)
            return response.status_code

    return asyncio.run(go())


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_api_route_demands_the_api_key():
    sandbox = _sandbox(admin=True)
    app = sandbox.asgi()
    checked = 0
    wrong = "Basic " + base64.b64encode(b"wrong-key").decode()
    for route in sandbox.routes():
        if route.path.startswith("/admin"):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            for headers in ({}, {"Authorization": wrong}, {"Authorization": "Bearer right-key"}):
                status = _call(app, method, _concrete(route.path), headers=headers)
                assert status == 401, f"{method} {route.path} answered {status} with {headers or 'no auth'}"
            checked += 1
    assert checked >= 30, f"only {checked} routes walked"


def test_admin_api_is_off_unless_enabled_and_loopback_only():
    off, on = _sandbox(admin=False), _sandbox(admin=True)
    admin_routes = [(m, r.path) for r in on.routes() if r.path.startswith("/admin")
                    for m in r.methods - {"HEAD"}]
    assert len(admin_routes) >= 10
    for method, path in admin_routes:
        assert _call(off.asgi(), method, _concrete(path)) == 404, (method, path)
        assert _call(on.asgi(), method, _concrete(path), client=("203.0.113.7", 40000)) == 403, (method, path)
        assert _call(on.asgi(), method, _concrete(path), client=("10.0.0.2", 40000)) == 403, (method, path)
    # A loopback client with the admin API on is served.
    assert _call(on.asgi(), "GET", "/admin/stats") == 200


# -- SQL ------------------------------------------------------------------------------------------

# SQL built from strings, reviewed: identifiers quoted by the dialect or numbers from typed settings.
REVIEWED_SQL_SITES = {
    ("include/receivables/warehouse/io.py",
     "_pg_write"): "identifiers quoted by the dialect; values go by COPY",
    ("include/receivables/warehouse/engine.py", "_on_connect"): "busy_timeout is an int from typed settings",
    ("include/receivables/warehouse/migrations/v0003_run_state.py", "upgrade"):
        "ALTER TABLE ADD COLUMN: names quoted by the dialect, the type compiled from our own table "
        "definition",
}
_SQL_CALLS = {"execute", "exec_driver_sql", "text", "executemany", "executescript"}


def _dynamic_sql_sites(path: Path) -> list[tuple[str, int]]:
    """Functions that pass an f-string, a %-format or a concatenation as SQL (name, line)."""
    tree = ast.parse(path.read_text())
    owner: dict[ast.AST, str] = {}
    # ast.walk goes outside-in, so a nested function's name overwrites its enclosing one.
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        for node in ast.walk(function):
            owner[node] = function.name
    found = []
    for node, function in owner.items():
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0]
        dynamic = isinstance(first, ast.JoinedStr) or (
            isinstance(first, ast.BinOp) and isinstance(first.op, ast.Mod | ast.Add)) or (
            isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "format")
        if name in _SQL_CALLS and dynamic:
            found.append((function, node.lineno))
    return found


def test_sql_is_parameterized_except_reviewed_identifier_sites():
    unreviewed = []
    for path in sorted((REPO / "include").rglob("*.py")) + sorted((REPO / "plugins").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("include/codat_sandbox/"):
            continue  # the sandbox's own SQLite state file is not the warehouse
        for function, line in _dynamic_sql_sites(path):
            if (relative, function) not in REVIEWED_SQL_SITES:
                unreviewed.append(f"{relative}:{line} in {function}()")
    assert not unreviewed, ("SQL built from strings (use bound parameters, or review and list "
                            "it):\n") + "\n".join(
        unreviewed)


@pytest.mark.parametrize("search_path", [
    "public -c log_statement=all", "x; DROP TABLE ar_invoices", "a b", "s' OR '1'='1", "schema\x00",
    '"quoted"; select 1',
])
def test_search_path_from_the_connection_extra_is_validated(search_path):
    with pytest.raises(ValueError, match="search_path"):
        WarehouseSettings.from_connection("postgres", host="127.0.0.1", login="u", schema="db",
                                          extra={"search_path": search_path})


@pytest.mark.parametrize("search_path", ["public", "t_0123abcd", "ar, public", "$user, public"])
def test_ordinary_search_paths_are_accepted(search_path):
    settings = WarehouseSettings.from_connection("postgres", host="127.0.0.1", login="u", schema="db",
                                                 extra={"search_path": search_path})
    assert settings.search_path


# -- the HTML report ------------------------------------------------------------------------------

@pytest.mark.parametrize("warehouse_settings", ["sqlite"], indirect=True)
def test_html_report_escapes_markup_from_the_source(tmp_path, warehouse_settings):
    world = build_world(tmp_path, warehouse_settings, days=(DAY,), companies=1, bad_row_fraction=0.0)
    try:
        company = world.companies[0].company_id
        invoices = world.table("ar_invoices", company_id=company)
        lines = world.table("ar_invoice_lines", company_id=company)
        first = invoices.iloc[0]
        markup = "<script>alert('number')</script>"
        # Rejected (unknown customer) so that it shows in the report's exceptions with its number.
        io.write_frame(world.engine, T["ar_invoices"], pd.DataFrame([{
            **first.to_dict(), "invoice_id": "XSS-1", "invoice_number": markup,
            "customer_id": "<b>nobody</b>", "note": "<img src=x onerror=alert(1)>"}]))
        io.write_frame(world.engine, T["ar_invoice_lines"],
                       lines[lines["invoice_id"] == first["invoice_id"]].assign(
            invoice_id="XSS-1"))
        day = run_day(world, DAY, world.codat_settings())
        assert not day.failures, day.failures
        html = (world.report_dir / DAY.isoformat() / "reconciliation.html").read_text()
    finally:
        close_world(world)
    assert "&lt;script&gt;alert(" in html, "the rejected invoice's number should be in the report, escaped"
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "<b>nobody</b>" not in html
