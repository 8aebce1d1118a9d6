"""push_options: a connection's push models into ``ar_ref_push_options`` — flattened, written only when they
change, and "none published" (never a failure) for a 404, an error or an empty model.

The pure parts are fed Codat's own phrasings (the OpenAPI examples' validation details); the pull runs
against a small stand-in client on SQLite and PostgreSQL (``warehouse_engine``). The same pull against the
real sandbox over HTTP is in ``test_platform_rules_sandbox``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from receivables import push_options as po
from receivables.codat.errors import CodatNotFound, CodatServerError
from receivables.codat.models import Connection, PushOption
from receivables.warehouse import io, schema

NOW = datetime(2026, 11, 21, 3, 0)
LATER = datetime(2026, 11, 21, 9, 0)
COMPANY, CONNECTION = "c-1", "k-1"

INVOICES = {
    "type": "Object",
    "displayName": "Invoice",
    "required": True,
    "validation": {
        "warnings": [
            {"details": "Oracle NetSuite does not support updating invoices: they can only be created."}
        ]
    },
    "properties": {
        "invoiceNumber": {
            "type": "String",
            "displayName": "Invoice number",
            "description": "d",
            "required": False,
            "validation": {
                "warnings": [{"field": "InvoiceNumber", "details": "Max length of 21 characters."}]
            },
        },
        "status": {
            "type": "String",
            "displayName": "Status",
            "description": "s",
            "required": True,
            "options": [{"value": "Submitted", "type": "String"}],
        },
        "lineItems": {
            "type": "Array",
            "displayName": "Lines",
            "description": "l",
            "required": True,
            "properties": {
                "taxRateRef": {
                    "type": "Object",
                    "displayName": "Tax",
                    "description": "t",
                    "required": False,
                    "properties": {
                        "id": {"type": "String", "displayName": "Id", "description": "i", "required": True}
                    },
                }
            },
        },
    },
}


def model(body: dict) -> PushOption:
    return PushOption.model_validate(body)


# -- reading a model ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("details", "limit"),
    [
        ("Max length of 7 characters.", 7),
        ("Should not be longer than 21 characters.", 21),
        ("Must not be greater than 225 characters long.", 225),
        ("Must have a length between 1 and 60 characters", 60),
        ("Must be at most 24 characters in length, although restrictions may vary between entities.", 24),
        ("Maximum 60 characters", 60),
        ("Must contain no more than 1000 characters.", 1000),
        ("Maximum character length should not be longer than 4000.", 4000),
        ("Must match the ID of an existing supplier and have a max length of 8 characters.", 8),
        ("If included must have a length between 1 and 7 characters", 7),
        ("Must not exceed 255 characters.", 255),
        ("The customer name can have a maximum of 60 characters", 60),
        ("Must be less than 22 characters.", 21),
        ("Must have a length of 14 characters", 14),
    ],
)
def test_max_length_reads_codats_own_phrasings(details, limit):
    assert po.max_length([details]) == limit


@pytest.mark.parametrize(
    "details",
    [
        "Must be provided.",
        "If provided must be a number between 0 and 100.",  # a number range, not a length
        "For account based line items, must be between 1 and 100 characters.",  # holds only sometimes
        "Only for Exact Netherlands, if provided, must be exactly 20 characters in length",
        "Must not be less than 0.",
    ],
)
def test_max_length_ignores_what_is_not_an_unconditional_length(details):
    assert po.max_length([details]) is None


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_the_strictest_of_several_limits_applies(a, b):
    assert po.max_length(
        [f"Max length of {a} characters.", f"Should not be longer than {b} characters."]
    ) == min(a, b)


def test_refusing_updates_is_read_from_the_models_own_words():
    assert po.refuses_updates(
        ["Oracle NetSuite does not support updating credit notes: they can only be created."]
    )
    assert po.refuses_updates(["Invoices cannot be updated once created."])
    assert po.refuses_updates(["Updating invoices is not supported."])
    assert not po.refuses_updates(
        ["Must be provided.", "Tax will not be overridden if TotalTaxAmount is 0."]
    )


def test_a_model_flattens_to_one_row_per_property_path():
    rows = po.option_rows(
        model(INVOICES),
        company_id=COMPANY,
        connection_id=CONNECTION,
        data_type="invoices",
        platform_name="Oracle NetSuite",
        fetched_at=NOW,
    ).set_index("property_path")
    assert list(rows.index) == [
        "",
        "invoiceNumber",
        "status",
        "lineItems",
        "lineItems.taxRateRef",
        "lineItems.taxRateRef.id",
    ]
    assert rows.loc["invoiceNumber", "max_length"] == 21
    assert json.loads(rows.loc["invoiceNumber", "validation_warnings"]) == ["Max length of 21 characters."]
    assert json.loads(rows.loc["status", "allowed_values"]) == ["Submitted"]
    assert pd.isna(rows.loc["invoiceNumber", "allowed_values"])
    # Required within an optional tax rate reference: not required of every line.
    assert (
        rows.loc["lineItems.taxRateRef.id", "required"]
        and not rows.loc["lineItems.taxRateRef.id", "always_required"]
    )
    assert rows.loc["status", "always_required"]
    assert rows.loc["", "update_supported"] == False  # noqa: E712 (a nullable column)
    assert pd.isna(rows.loc["status", "update_supported"])
    assert rows["published"].all() and (rows["platform_name"] == "Oracle NetSuite").all()
    assert sorted(rows.reset_index().columns) == sorted(po.COLUMNS)


def test_the_hash_ignores_when_a_model_was_read_but_not_what_it_says():
    first = po.option_rows(
        model(INVOICES),
        company_id=COMPANY,
        connection_id=CONNECTION,
        data_type="invoices",
        platform_name="X",
        fetched_at=NOW,
    )
    again = first.assign(fetched_at=LATER)
    changed = first.copy()
    changed.loc[1, "max_length"] = 22
    assert po.content_hash(first) == po.content_hash(again) != po.content_hash(changed)


def test_the_hash_is_the_one_stored_by_earlier_releases():
    # The digest is kept in ar_sync_state and compared at the next pull: a different spelling of the same
    # rows would make every connection's rules look changed once (and be rewritten) after an upgrade.
    rows = po.option_rows(model(INVOICES), company_id=COMPANY, connection_id=CONNECTION, data_type="invoices",
                          platform_name=None, fetched_at=NOW)
    silent = po.unpublished_rows(company_id=COMPANY, connection_id=CONNECTION, data_type="payments",
                                 platform_name="X", note="404", fetched_at=NOW)
    for frame in (rows, silent):
        facts = frame.drop(columns=["fetched_at"]).sort_values("property_path")
        earlier = facts.astype(object).where(facts.notna(), None).to_json(orient="records")
        assert po.content_hash(frame) == hashlib.sha256(earlier.encode()).hexdigest()


def test_an_empty_model_is_none_published():
    assert model({}).is_empty and model({"displayName": "Invoice", "properties": {}}).is_empty
    assert not model(INVOICES).is_empty


# -- pulling into the warehouse ---------------------------------------------------------------------------


class Platform:
    """Answers get_push_options per data type: a model dict, an exception to raise, or {} (empty)."""

    def __init__(self, answers: dict, name: str | None = "Oracle NetSuite") -> None:
        self.answers, self.name, self.calls = answers, name, []

    def get_connection(self, company_id, connection_id):
        if self.name is None:
            raise CodatServerError("connection read failed", status_code=500)
        return Connection(id=connection_id, platform_name=self.name)

    def get_push_options(self, company_id, connection_id, data_type):
        self.calls.append(data_type)
        answer = self.answers.get(data_type, {})
        if isinstance(answer, Exception):
            raise answer
        return PushOption.model_validate(answer)


def stored(engine) -> pd.DataFrame:
    return io.read_frame(engine, schema.ar_ref_push_options, where={"company_id": COMPANY})


def pull(client, engine, now=NOW, **kwargs):
    return po.pull_push_options(
        client, engine, company_id=COMPANY, connection_id=CONNECTION, now=now, **kwargs
    )


def test_a_pull_stores_each_model_and_marks_the_silent_ones(warehouse_engine):
    client = Platform(
        {
            "customers": CodatNotFound("no such route", status_code=404),
            "invoices": INVOICES,
            "creditNotes": {},
        }
    )
    outcome = pull(client, warehouse_engine)
    assert outcome == {
        "customers": po.NONE_PUBLISHED,
        "invoices": po.CHANGED,
        "creditNotes": po.NONE_PUBLISHED,
        "payments": po.NONE_PUBLISHED,
        "directCosts": po.NONE_PUBLISHED,
    }
    assert client.calls == list(po.DATA_TYPES)
    rows = stored(warehouse_engine)
    silent = rows[~rows["published"].astype(bool)].set_index("data_type")
    assert sorted(silent.index) == ["creditNotes", "customers", "directCosts", "payments"]
    assert (silent["property_path"] == "").all()
    assert "404" in silent.loc["customers", "note"]
    assert "empty model" in silent.loc["creditNotes", "note"]
    assert len(rows[rows["data_type"] == "invoices"]) == 6


def test_after_one_failure_the_endpoint_is_not_asked_again_in_that_pull(warehouse_engine):
    client = Platform(
        {"invoices": INVOICES, "creditNotes": CodatServerError("upstream broke", status_code=500)}
    )
    outcome = pull(client, warehouse_engine)
    # Each failing read waits out its retries: the rest of the pull records the same failure instead.
    assert client.calls == ["customers", "invoices", "creditNotes"]
    assert outcome["invoices"] == po.CHANGED
    assert {outcome[t] for t in ("creditNotes", "payments", "directCosts")} == {po.NONE_PUBLISHED}
    silent = stored(warehouse_engine).set_index(["data_type", "property_path"])
    for data_type in ("creditNotes", "payments", "directCosts"):
        assert "the options endpoint failed: upstream broke" == silent.loc[(data_type, ""), "note"]
    client.answers["creditNotes"] = {}
    pull(client, warehouse_engine, now=LATER)
    assert client.calls[3:] == list(po.DATA_TYPES), "the next pull asks afresh"


def test_an_unchanged_model_is_not_written_again_and_a_changed_one_is(warehouse_engine):
    client = Platform({"invoices": INVOICES})
    pull(client, warehouse_engine)
    again = pull(client, warehouse_engine, now=LATER)
    assert again["invoices"] == po.UNCHANGED
    assert set(stored(warehouse_engine)["fetched_at"]) == {pd.Timestamp(NOW)}  # nothing rewritten

    longer = json.loads(json.dumps(INVOICES))
    longer["properties"]["invoiceNumber"]["validation"]["warnings"][0]["details"] = (
        "Max length of 30 characters."
    )
    client.answers["invoices"] = longer
    assert pull(client, warehouse_engine, now=LATER)["invoices"] == po.CHANGED
    rows = stored(warehouse_engine).set_index(["data_type", "property_path"])
    assert rows.loc[("invoices", "invoiceNumber"), "max_length"] == 30

    client.answers["invoices"] = {}  # the platform stops publishing: its old rules go
    assert pull(client, warehouse_engine, now=LATER)["invoices"] == po.NONE_PUBLISHED
    invoices = stored(warehouse_engine)
    invoices = invoices[invoices["data_type"] == "invoices"]
    assert len(invoices) == 1 and not invoices["published"].astype(bool).any()


def test_a_failure_keeps_the_rules_already_stored(warehouse_engine):
    client = Platform({"invoices": INVOICES})
    pull(client, warehouse_engine)
    client.answers["invoices"] = CodatServerError("try again later", status_code=503)
    assert pull(client, warehouse_engine, now=LATER)["invoices"] == po.KEPT
    invoices = stored(warehouse_engine)
    invoices = invoices[invoices["data_type"] == "invoices"]
    assert invoices["published"].astype(bool).all() and len(invoices) == 6


def test_a_pull_that_cannot_store_its_digest_leaves_rules_and_digest_as_they_were(warehouse_engine,
                                                                                  monkeypatch):
    client = Platform({"invoices": INVOICES})
    pull(client, warehouse_engine)
    before = stored(warehouse_engine)
    longer = json.loads(json.dumps(INVOICES))
    longer["properties"]["invoiceNumber"]["validation"]["warnings"][0]["details"] = (
        "Max length of 30 characters.")
    client.answers.update(invoices=longer, payments=CodatNotFound("no such route", status_code=404))
    write_frame = io.write_frame

    def digest_write_fails(conn, table, df, **kwargs):
        if table is schema.ar_sync_state:
            raise OSError("warehouse went away")
        return write_frame(conn, table, df, **kwargs)

    monkeypatch.setattr(io, "write_frame", digest_write_fails)
    with pytest.raises(OSError, match="went away"):
        pull(client, warehouse_engine, now=LATER)
    # Nothing half-stored: the old rules of every type, so no digest can name rules that are not there.
    after = stored(warehouse_engine)
    assert after.sort_values(["data_type", "property_path"]).reset_index(drop=True).equals(
        before.sort_values(["data_type", "property_path"]).reset_index(drop=True))
    monkeypatch.setattr(io, "write_frame", write_frame)
    outcome = pull(client, warehouse_engine, now=LATER)
    assert outcome["invoices"] == po.CHANGED and outcome["payments"] == po.NONE_PUBLISHED
    rows = stored(warehouse_engine).set_index(["data_type", "property_path"])
    assert rows.loc[("invoices", "invoiceNumber"), "max_length"] == 30
    assert "404" in rows.loc[("payments", ""), "note"]


def test_a_full_pull_rewrites_even_an_unchanged_model(warehouse_engine):
    client = Platform({"invoices": INVOICES})
    pull(client, warehouse_engine)
    assert pull(client, warehouse_engine, now=LATER, full=True)["invoices"] == po.CHANGED
    assert set(stored(warehouse_engine)["fetched_at"]) == {pd.Timestamp(LATER)}


def test_no_platform_name_does_not_stop_the_pull(warehouse_engine):
    outcome = pull(Platform({"invoices": INVOICES}, name=None), warehouse_engine)
    assert outcome["invoices"] == po.CHANGED
    assert stored(warehouse_engine)["platform_name"].isna().all()


def test_reading_back_follows_the_companys_current_connection(warehouse_engine):
    from receivables.warehouse.migrations import create_input_tables

    create_input_tables(warehouse_engine)
    io.write_frame(
        warehouse_engine,
        schema.ar_companies,
        pd.DataFrame(
            [
                {
                    "company_id": COMPANY,
                    "connection_id": CONNECTION,
                    "name": "Acme",
                    "base_currency": "GBP",
                    "active": True,
                },
                {
                    "company_id": "c-2",
                    "connection_id": "k-2",
                    "name": "Beta",
                    "base_currency": "GBP",
                    "active": True,
                },
            ]
        ),
    )
    pull(Platform({"invoices": INVOICES}), warehouse_engine)
    po.pull_push_options(
        Platform({}, name="Xero"), warehouse_engine, company_id=COMPANY, connection_id="k-old", now=NOW
    )
    rows = po.read_push_options(warehouse_engine, COMPANY)
    assert set(rows["connection_id"]) == {CONNECTION}
    assert po.read_push_options(warehouse_engine, "nobody").empty
    assert po.company_platforms(warehouse_engine, [COMPANY, "c-2"]) == {COMPANY: "Oracle NetSuite"}
    assert po.company_platforms(warehouse_engine, []) == {}
