"""`make demo`, `make sync` and `make backfill` on the local stack (or on the user's own connections).

    python -m local_stack demo
    python -m local_stack sync 2026-11-20
    python -m local_stack backfill 2026-11-18 2026-11-20

When ``AIRFLOW_CONN_CODAT_DEFAULT`` / ``AIRFLOW_CONN_WAREHOUSE_DEFAULT`` are unset, the local sandbox
(state in ``.state/``) and the SQLite warehouse ``.state/warehouse.db`` are used.
"""

from __future__ import annotations

import argparse
import sys

from local_stack import demo, runs


def _flag(value: str) -> bool:
    """DRY_RUN=1/yes/true or 0/no/false (or empty); anything else is refused, never silently ignored."""
    text = value.strip().lower()
    if text in ("1", "yes", "true", "on"):
        return True
    if text in ("", "0", "no", "false", "off"):
        return False
    raise argparse.ArgumentTypeError(f"DRY_RUN={value!r}: use DRY_RUN=1 for a dry run (or 0 / leave it out)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo",
                                   help="sandbox + SQLite + sample data → sync → reconciliation report")
    demo_cmd.add_argument("--companies", type=int, default=3)
    demo_cmd.add_argument("--days", type=int, default=3)
    demo_cmd.add_argument("--invoices-per-day", type=int, default=40)
    sync_cmd = commands.add_parser("sync", help="run receivables_sync for one business day")
    sync_cmd.add_argument("date")
    sync_cmd.add_argument("--dry-run", nargs="?", const="1", default="", type=_flag, metavar="1|0",
                          help="plan and report what would change; push nothing, change nothing")
    backfill_cmd = commands.add_parser("backfill", help="run receivables_sync for every day in a range")
    backfill_cmd.add_argument("start")
    backfill_cmd.add_argument("end")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo.run(companies=args.companies, days=args.days, invoices_per_day=args.invoices_per_day)
    if args.command == "sync":
        return runs.sync(args.date, dry_run=args.dry_run)
    return runs.backfill(args.start, args.end)


if __name__ == "__main__":
    sys.exit(main())
