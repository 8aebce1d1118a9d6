"""Benchmark data: scratch PostgreSQL databases, companies without a server, and generated batches.

    with scratch_database("read") as engine:          # a fresh database, dropped afterwards
        ...
    companies = offline_companies(10)                  # ProvisionedCompany list, no sandbox needed
    tables = generated_batch(companies, invoices=200_000, lines_per_invoice=5)

Everything is deterministic (the sample-data generator's seed), so two runs measure the same rows.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from datetime import date

import httpx
import pandas as pd
import psycopg2
from sqlalchemy.engine import Engine

from benchmarks.harness import PG_ADMIN_DSN
from codat_sandbox import seed
from receivables.warehouse import WarehouseSettings, create_warehouse_engine
from sample_data import ProvisionedCompany, SampleSpec, generate_days, provision_companies

BUSINESS_DAY = date(2026, 11, 20)
_OFFLINE_KEY = "benchmark-offline-key"
_SEEDED_AT = "2026-11-01T00:00:00.000Z"


# ------------------------------------------------------------------------------------------ PostgreSQL

def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_settings(database: str) -> WarehouseSettings:
    params = dict(part.split("=", 1) for part in PG_ADMIN_DSN.split())
    return WarehouseSettings(dialect="postgresql", host=params.get("host", "127.0.0.1"),
                             port=int(params.get("port", 5432)), login=params.get("user", "postgres"),
                             database=database)


def create_database(label: str) -> str:
    """A new, empty database named after the benchmark; returns its name."""
    name = f"rs_bench_{label}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(label: str) -> Generator[tuple[str, Engine]]:
    """A fresh PostgreSQL database and an engine on it; both go away at the end."""
    name = create_database(label)
    engine = create_warehouse_engine(pg_settings(name))
    try:
        yield name, engine
    finally:
        engine.dispose()
        drop_database(name)


# ------------------------------------------------------------------------------------------ companies

class _SeededReferenceData:
    """Answers what :func:`provision_companies` asks the sandbox, from the sandbox's own seed."""

    def __init__(self) -> None:
        self.data: dict[str, dict] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if request.method == "POST" and parts == ["admin", "companies"]:
            body = json.loads(request.content)
            self.data[body["id"]] = seed.reference_data(body["id"], body["baseCurrency"], _SEEDED_AT)
            return httpx.Response(200, json={"id": body["id"], "name": body["name"],
                                             "baseCurrency": body["baseCurrency"],
                                             "connectionId": seed.connection_id(body["id"])})
        if request.method == "GET" and len(parts) == 4 and parts[2] == "data":
            records = self.data[parts[1]][parts[3]]
            page, size = int(request.url.params["page"]), int(request.url.params["pageSize"])
            return httpx.Response(200, json={"results": records[(page - 1) * size: page * size],
                                             "pageNumber": page, "pageSize": size,
                                             "totalResults": len(records)})
        return httpx.Response(404, json={"statusCode": 404})


def offline_companies(n: int, namespace: str = "bench") -> list[ProvisionedCompany]:
    """``n`` companies as the sandbox would provision them, through the real provisioning code."""
    return provision_companies("http://sandbox.invalid", n, api_key=_OFFLINE_KEY, namespace=namespace,
                               transport=httpx.MockTransport(_SeededReferenceData()))


def reference_records(company: ProvisionedCompany) -> dict[str, list[dict]]:
    """The sandbox's seeded reference records of a company (accounts, taxRates, …)."""
    return seed.reference_data(company.company_id, company.base_currency, _SEEDED_AT)


def basic_auth(api_key: str) -> str:
    return "Basic " + base64.b64encode(api_key.encode()).decode()


# ------------------------------------------------------------------------------------------ batches

def spec_for(companies: int, *, invoices: int, lines_per_invoice: int | None = None,
             credit_note_ratio: float = 0.0, payment_ratio: float = 0.5,
             days: Sequence[date] = (BUSINESS_DAY,), bad_row_fraction: float = 0.0) -> SampleSpec:
    """A sample spec for ``invoices`` invoices per day spread over ``companies`` companies."""
    weights = (0.15, 0.2, 0.3, 0.2, 0.15)
    if lines_per_invoice is not None:
        weights = tuple(1.0 if n == lines_per_invoice else 0.0 for n in range(1, 6))
    return SampleSpec(companies=companies, business_days=tuple(days),
                      invoices_per_day=max(1, invoices // companies),
                      line_count_weights=weights, credit_note_ratio=credit_note_ratio,
                      payment_ratio=payment_ratio, bad_row_fraction=bad_row_fraction)


def generated_batch(companies: Sequence[ProvisionedCompany], spec: SampleSpec) -> dict[str, pd.DataFrame]:
    """Every input table's rows for the spec's (single) business day."""
    tables: dict[str, pd.DataFrame] = {}
    for _day, frames, _bad in generate_days(spec, companies):
        tables = frames
    return tables
