"""``python -m sample_data``: provision sample companies in the sandbox and fill the warehouse input tables.

    python -m sample_data --warehouse-url sqlite:////abs/warehouse.db --sandbox-url http://127.0.0.1:8000 \\
        --companies 5 --days 2026-11-20:2026-11-22 --invoices-per-day 100 --bad-rows 0.02 --seed 7

The sandbox API key comes from ``--api-key`` or ``$CODAT_SANDBOX_API_KEY`` (never printed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date, timedelta

from receivables.warehouse import WarehouseSettings, create_warehouse_engine
from sample_data.provision import provision_companies
from sample_data.spec import SampleSpec, company_currencies
from sample_data.write import write_sample


def parse_days(text: str) -> tuple[date, ...]:
    """``2026-11-20`` or an inclusive range ``2026-11-20:2026-11-22``."""
    first, _, last = text.partition(":")
    start = date.fromisoformat(first)
    end = date.fromisoformat(last) if last else start
    if end < start:
        raise argparse.ArgumentTypeError(f"the range {text} ends before it starts")
    return tuple(start + timedelta(days=i) for i in range((end - start).days + 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sample_data", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse-url", required=True, help="SQLAlchemy URL of the warehouse")
    parser.add_argument("--sandbox-url", required=True, help="base URL of the Codat sandbox (admin API on)")
    parser.add_argument("--api-key", default=os.environ.get("CODAT_SANDBOX_API_KEY"),
                        help="sandbox API key (default: $CODAT_SANDBOX_API_KEY)")
    parser.add_argument("--companies", type=int, default=3)
    parser.add_argument("--days", type=parse_days, required=True, help="YYYY-MM-DD or YYYY-MM-DD:YYYY-MM-DD")
    parser.add_argument("--invoices-per-day", type=int, default=20, help="per company per day")
    parser.add_argument("--bad-rows", type=float, default=0.0, help="fraction of extra invalid documents")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timezone", default="UTC", help="timezone of the business days")
    parser.add_argument("--namespace", default="sample", help="company ids are deterministic per namespace")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.api_key:
        print("error: give the sandbox API key with --api-key or $CODAT_SANDBOX_API_KEY", file=sys.stderr)
        return 2
    spec = SampleSpec(companies=args.companies, business_days=args.days,
                      invoices_per_day=args.invoices_per_day,
                      bad_row_fraction=args.bad_rows, seed=args.seed, timezone=args.timezone)
    settings = WarehouseSettings.from_url(args.warehouse_url)
    companies = provision_companies(args.sandbox_url, args.companies, company_currencies(args.companies),
                                    api_key=args.api_key, namespace=args.namespace)
    engine = create_warehouse_engine(settings)
    try:
        manifest = write_sample(engine, spec, companies)
    finally:
        engine.dispose()
    print(f"warehouse: {settings.display_url()}")
    print(f"companies: {', '.join(f'{c.name} ({c.base_currency}) {c.company_id}' for c in companies)}")
    print(f"business days: {spec.business_days[0]} .. {spec.business_days[-1]} ({spec.timezone})")
    print(manifest.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
