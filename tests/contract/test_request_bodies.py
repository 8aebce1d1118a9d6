"""(a) The request bodies production sends conform to Codat's request schemas (Codat-Accounting.yaml).

A body is built one way only: :mod:`receivables.transform` writes its bytes and push sends them as they
are. So these tests validate those very bytes — every payload of a generated day's batch, for every kind
of the registry (customers, invoices, credit notes, payments, credit-note allocations, fees as direct
costs) — not a second model of them. :func:`body` gives one body of each shape in :data:`SHAPES`, for the
sandbox's schema tests (``test_push_schemas``) too.
"""

from __future__ import annotations

import functools

import orjson
import pandas as pd
import pytest
from tests.contract.oas import oas_dir, validation_errors
from tests.receivables.test_transform import COMPANIES, lookup_for, make_batch, reference_data

from codat_sandbox.schemas import SCHEMA_NAMES
from receivables import documents

ACCOUNTING = oas_dir() / "Codat-Accounting.yaml"


@functools.cache
def payloads() -> dict[str, pd.DataFrame]:
    """Each kind's payload frame for a generated day (three companies: GBP, JPY and BHD books)."""
    refdata = reference_data()
    lookup = lookup_for(refdata)
    b = make_batch(1)
    kw = {"companies": COMPANIES, "mappings": lookup, "platform_ids": b["platform_ids"]}
    sales = {**kw, "tax_rates": refdata["tax_rates"]}
    calls = {
        "customer": lambda f: f(b["ar_customers"]),
        "invoice": lambda f: f(b["ar_invoices"], b["ar_invoice_lines"], **sales),
        "credit_note": lambda f: f(b["ar_credit_notes"], b["ar_credit_note_lines"], **sales),
        "payment": lambda f: f(b["ar_payments"], b["ar_payment_allocations"], **kw),
        "fee": lambda f: f(b["ar_payments"], companies=COMPANIES, mappings=lookup),
        "credit_note_allocation": lambda f: f(b["ar_credit_note_allocations"], documents=b["documents"],
                                              companies=COMPANIES, platform_ids=b["platform_ids"]),
    }
    assert set(calls) == set(documents.KIND), "a kind of the registry has no contract test"
    return {name: calls[name](documents.KIND[name].payload_function()) for name in calls}


def _first(kind: str, *needles: bytes) -> bytes:
    """The first payload of ``kind`` whose bytes contain every needle."""
    return next(p for p in payloads()[kind]["payload"] if all(n in p for n in needles))


# name -> (kind, what its body contains): one body per shape the pipeline sends.
SHAPES = {
    "customer": ("customer", ()),
    "invoice": ("invoice", (b'"taxRateRef"', b'"tracking"')),
    "foreign invoice": ("invoice", (b'"currency":"USD"',)),
    "credit note": ("credit_note", ()),
    "invoice payment": ("payment", (b'"type":"Invoice"',)),
    "credit note refund": ("payment", (b'"type":"CreditNote"',)),
    "payment on account": ("payment", (b'"type":"PaymentOnAccount"',)),
    "credit note allocation": ("credit_note_allocation", ()),
    "direct cost": ("fee", ()),
}


@functools.cache
def body(name: str) -> tuple[str, bytes]:
    """(Codat data type, body bytes) of shape ``name`` of :data:`SHAPES`."""
    kind, needles = SHAPES[name]
    return documents.KIND[kind].data_type, _first(kind, *needles)


@pytest.mark.parametrize("kind", [k.name for k in documents.KINDS])
def test_every_body_transform_makes_conforms_to_the_schema(kind):
    frame = payloads()[kind]
    assert len(frame) > 0
    schema = SCHEMA_NAMES[documents.KIND[kind].data_type]
    failures = {}
    for source_id, body in zip(frame["source_id"], frame["payload"], strict=True):
        errors = validation_errors(ACCOUNTING, schema, orjson.loads(body))
        if errors:
            failures[source_id] = errors
    assert failures == {}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_the_pipeline_sends_is_in_the_batch_and_conforms(name):
    data_type, sent = body(name)
    assert validation_errors(ACCOUNTING, SCHEMA_NAMES[data_type], orjson.loads(sent)) == []


def test_a_broken_body_is_caught_by_the_check():
    sent = orjson.loads(body("invoice payment")[1])
    sent["lines"][0]["links"][0]["surprise"] = 1  # paymentLineLink forbids extra properties
    assert validation_errors(ACCOUNTING, "Payment", sent)
