"""check_platform_mappings: a mapping the connection's push model refuses, and the note on a connection that
publishes no model (it gets the gate's own rules only — the night goes on)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from receivables import push_options
from receivables.codat.models import PushOption
from receivables.mappings import ISSUE_COLUMNS, check_platform_mappings, resolve_mappings

NOW = datetime(2026, 11, 20)


def prop(required=False, **extra) -> dict:
    return {"type": "String", "displayName": "x", "description": "x", "required": required, **extra}


def obj(properties: dict, required=False, kind="Object") -> dict:
    return {
        "type": kind,
        "displayName": "x",
        "description": "x",
        "required": required,
        "properties": properties,
    }


INVOICES = obj(
    {
        "lineItems": obj(
            {
                "accountRef": obj(
                    {
                        "id": prop(
                            True, validation={"warnings": [{"details": "Max length of 8 characters."}]}
                        )
                    }
                ),
                "taxRateRef": obj({"id": prop(True, options=[{"value": "TAX"}, {"value": "NON"}])}),
            },
            required=True,
            kind="Array",
        )
    },
    required=True,
)


def rows(company="c1", platform="Sage 50") -> pd.DataFrame:
    published = push_options.option_rows(
        PushOption.model_validate(INVOICES),
        company_id=company,
        connection_id="k1",
        data_type="invoices",
        platform_name=platform,
        fetched_at=NOW,
    )
    silent = push_options.unpublished_rows(
        company_id=company,
        connection_id="k1",
        data_type="payments",
        platform_name=platform,
        note="the options endpoint answered 404",
        fetched_at=NOW,
    )
    return pd.concat([published, silent], ignore_index=True)


def mapping(kind: str, code: str, platform_id: str, company="c1") -> dict:
    return {"company_id": company, "kind": kind, "source_code": code, "platform_id": platform_id}


MAPPINGS = pd.DataFrame(
    [
        mapping("income_account", "*", "acc-123456789"),  # 13 characters: over the limit of 8
        mapping("income_account", "SALES", "4000"),
        mapping("tax_rate", "VAT", "TAX"),
        mapping("tax_rate", "ZERO", "tr-0"),  # not among the allowed values
        mapping("tracking_category", "NORTH", "tc-1"),  # the model's lines take no tracking
        mapping("payment_account", "*", "bank-1"),  # payments publish nothing: nothing to check
    ]
)


def test_mappings_the_platform_refuses_and_the_note_for_a_silent_data_type():
    issues = check_platform_mappings(MAPPINGS, rows())
    assert list(issues.columns) == ISSUE_COLUMNS
    by_code = issues.set_index(["kind", "source_code"])
    assert sorted(by_code.index) == [
        ("income_account", "*"),
        ("platform_options", "payments"),
        ("tax_rate", "ZERO"),
        ("tracking_category", "NORTH"),
    ]
    assert by_code.loc[("income_account", "*"), "rule"] == "mapping_platform_rule"
    assert (
        "longer than the 8 characters Sage 50 accepts in lineItems.accountRef.id"
        in by_code.loc[("income_account", "*"), "message"]
    )
    assert "is not among the values Sage 50 accepts" in by_code.loc[("tax_rate", "ZERO"), "message"]
    assert (
        "Sage 50 takes no tracking category on invoices lines"
        in by_code.loc[("tracking_category", "NORTH"), "message"]
    )
    note = by_code.loc[("platform_options", "payments")]
    assert note["rule"] == "platform_options_unpublished" and note["platform_id"] == "k1"
    assert note["message"] == (
        "company c1: connection k1 (Sage 50) publishes no push rules for payments (the options endpoint "
        "answered 404); only the gate's own rules apply, so the platform may still refuse a document when it "
        "is pushed"
    )


def test_a_refused_mapping_breaks_the_documents_using_it_and_the_note_breaks_none():
    lookup = resolve_mappings(MAPPINGS, check_platform_mappings(MAPPINGS, rows()))
    assert lookup.is_broken("c1", "tax_rate", "ZERO") and not lookup.is_broken("c1", "tax_rate", "VAT")
    assert lookup.platform_id("c1", "payment_account", "card") == "bank-1"
    assert lookup.platform_id("c1", "income_account", "SALES") == "4000"


def test_no_options_read_yet_means_no_issue():
    assert check_platform_mappings(MAPPINGS, None).empty
    assert check_platform_mappings(MAPPINGS, rows().iloc[0:0]).empty
    other_company = check_platform_mappings(MAPPINGS, rows(company="c2"))
    assert other_company["kind"].tolist() == ["platform_options"]
