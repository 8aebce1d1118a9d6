"""Progress lines on long pushes name the company and the phase: "company Acme: invoices 2/4 sent, 9/s"."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import date
from types import SimpleNamespace

import pandas as pd

from receivables import push


class _Client:
    async def push(self, company_id, connection_id, data_type, payload, *, idempotency_key, record_id=None):
        return SimpleNamespace(push_operation_key=f"op-{idempotency_key}")


class _Ledger:
    def write(self, rows):
        pass


def test_progress_lines_name_the_company_and_the_phase(caplog):
    ctx = replace(push.PushContext(company_id="c1", connection_id="k1", business_date=date(2026, 11, 30),
                                   run_id="r1", progress_every=2),
                  progress_label="company Acme Trading: invoices and credit notes")
    rows = pd.DataFrame({"company_id": "c1", "document_type": "invoice",
                         "source_id": [f"i{n}" for n in range(4)],
                         "payload": b"{}", "idempotency_key": [f"k{n}" for n in range(4)],
                         "platform_id": None, "action": push.CREATE, "attempts": 0})
    caplog.set_level(logging.INFO, logger=push.log.name)

    asyncio.run(push._send_all(_Client(), ctx, rows, _Ledger(), push.PushOutcome(), concurrency=1))

    lines = [r.getMessage() for r in caplog.records if " sent, " in r.getMessage()]
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "company Acme Trading: invoices and credit notes 2/4 sent",
        "company Acme Trading: invoices and credit notes 4/4 sent"]
    assert all(line.endswith("/s") for line in lines)
