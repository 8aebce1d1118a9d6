"""`make demo`: the whole product on this machine, from nothing to a reconciliation report.

Starts the sandbox, creates sample companies and three business days (weekdays) of receivables (with a few
invalid rows on purpose) in a SQLite warehouse, runs ``receivables_reference_data`` and then
``receivables_sync`` for each day through Airflow, and prints the reconciliation summary and where
the HTML report is. Everything it starts is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

from local_stack.runs import REPO, local_connections, run_reference, run_sync_day, say, state_dir

# The demo's business calendar: Monday to Friday (weekday() 0-4); weekends carry no batches.
BUSINESS_WEEKDAYS = frozenset(range(5))
CALENDAR_NAME = "weekdays, Monday to Friday"


def demo_days(count: int, today: date | None = None) -> list[date]:
    """The last ``count`` business days (weekdays) before today (UTC), oldest first."""
    day = today or datetime.now(UTC).date()
    days: list[date] = []
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() in BUSINESS_WEEKDAYS:
            days.append(day)
    return days[::-1]


def run(*, companies: int = 3, days: int = 3, invoices_per_day: int = 40) -> int:
    started = time.monotonic()
    state = state_dir()
    for name in ("sandbox.sqlite", "sandbox.sqlite-wal", "sandbox.sqlite-shm", "sandbox.key", "warehouse.db",
                 "warehouse.db-wal", "warehouse.db-shm"):
        (state / name).unlink(missing_ok=True)
    business_days = demo_days(days)
    shown = ", ".join(d.strftime("%a %Y-%m-%d") for d in business_days)
    say(f"Receivables Sync demo: {companies} companies × {days} business days "
        f"({shown}; business days are {CALENDAR_NAME}), local sandbox + SQLite warehouse")
    try:
        with local_connections(fresh=True, force_local=True) as env:
            say(f"[1/4] Sandbox API running at {env['RS_SANDBOX_URL']}")
            say("[2/4] Creating companies in the sandbox and sample receivables in the warehouse …")
            _write_sample(env, companies, business_days, invoices_per_day)
            say("[3/4] Pulling reference data and checking mappings …")
            if run_reference(env) != 0:
                return 1
            say("[4/4] Nightly sync, one business day at a time …")
            for day in business_days:
                if run_sync_day(day.isoformat(), env) != 0:
                    return 1
    except KeyboardInterrupt:
        say("\ninterrupted: every process the demo started has been stopped")
        return 130
    last = business_days[-1].isoformat()
    say(f"\nDone in {time.monotonic() - started:.0f}s.")
    say(f"Open the finance report: {REPO / 'reports' / last / 'reconciliation.html'}")
    say(f"Exceptions as CSV:       {REPO / 'reports' / last / 'exceptions.csv'}")
    say(f"Warehouse (SQLite):      {state / 'warehouse.db'}  "
        "— tables ar_reconciliation, ar_push_ledger, ar_rejects")
    say(f"Rerun a day safely:      make sync DATE={last}")
    return 0


def _write_sample(env: dict[str, str], companies: int, business_days: list[date],
                  invoices_per_day: int) -> None:
    from receivables.warehouse.engine import WarehouseSettings, create_warehouse_engine
    from sample_data import SampleSpec, provision_companies, write_sample

    codat = json.loads(env["AIRFLOW_CONN_CODAT_DEFAULT"])
    warehouse = json.loads(env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"])
    provisioned = provision_companies(codat["host"], companies, api_key=codat["password"], namespace="demo")
    engine = create_warehouse_engine(WarehouseSettings.from_connection(
        conn_type=warehouse["conn_type"], host=warehouse["host"], port=None, login=None, password=None,
        schema=None, extra={}))
    try:
        spec = SampleSpec(companies=companies, business_days=tuple(business_days),
                          invoices_per_day=invoices_per_day, bad_row_fraction=0.05)
        manifest = write_sample(engine, spec, provisioned)
    finally:
        engine.dispose()
    counts = manifest.row_counts
    say(f"      {counts.get('ar_invoices', 0)} invoices, {counts.get('ar_credit_notes', 0)} credit notes, "
        f"{counts.get('ar_payments', 0)} payments, {len(manifest.bad_rows)} invalid rows planted on purpose")
