"""A sync worker in its own process, so a test can kill it with SIGKILL in the middle of a push.

    python -m tests.reliability.worker '<json: warehouse, codat, company, report_dir>'

Runs ``jobs.sync_company`` for one company exactly as the Airflow task does and prints its counts.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from receivables import jobs
from receivables.settings import CodatSettings, SyncSettings
from receivables.warehouse import WarehouseSettings, create_warehouse_engine


def warehouse_arguments(settings: WarehouseSettings) -> dict[str, Any]:
    """What the child needs to open the same warehouse (the parent's own test database)."""
    values = settings.model_dump(mode="json")
    values["password"] = settings.password.get_secret_value() if settings.password else None
    return values


def main(argument: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = json.loads(argument)
    engine = create_warehouse_engine(WarehouseSettings(**spec["warehouse"]))
    codat = CodatSettings.from_connection(host=spec["base_url"], password=spec["api_key"],
                                          extra=spec["codat"])
    result = jobs.sync_company(codat, engine, spec["company"],
                               settings=SyncSettings(report_dir=spec["report_dir"]))
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
