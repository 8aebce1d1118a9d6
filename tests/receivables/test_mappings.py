"""Mapping check: each misconfiguration is named, explained and turned into a broken lookup entry."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.receivables.test_transform import frame, reference_data

from receivables.mappings import ISSUE_COLUMNS, check_mappings, resolve_mappings


@pytest.fixture
def refdata():
    return reference_data()


def check(refdata, mappings=None, **overrides):
    data = {**refdata, **overrides}
    return check_mappings(mappings if mappings is not None else data["mappings"], data["accounts"],
                          data["bank_accounts"], data["tax_rates"], data["tracking_categories"])


def add_mapping(refdata, kind, code, pid, company="c-gbp"):
    extra = frame([{"company_id": company, "kind": kind, "source_code": code, "platform_id": pid}])
    return pd.concat([refdata["mappings"], extra], ignore_index=True)


def test_healthy_mappings_raise_no_issue(refdata):
    issues = check(refdata)
    assert list(issues.columns) == ISSUE_COLUMNS and issues.empty


@pytest.mark.parametrize(("kind", "code", "pid", "rule", "fragment"), [
    ("income_account", "GHOST", "acc-404", "mapping_target_missing", "does not exist"),
    ("income_account", "FEE", "exp-fees", "mapping_wrong_kind",
     "is a Expense account, not an Income account"),
    ("fee_account", "X", "inc-sales", "mapping_wrong_kind", "not an Expense account"),
    ("payment_account", "cash", "inc-sales", "mapping_wrong_kind", "is not a bank account"),
    ("tracking_category", "REGION", "tc-region", "mapping_target_missing", "does not exist"),
    ("tax_rate", "T", "tr-404", "mapping_target_missing", "does not exist"),
    ("discount_account", "*", "inc-sales", "mapping_kind_unknown", "unknown kind 'discount_account'"),
])
def test_each_misconfiguration_is_reported(refdata, kind, code, pid, rule, fragment):
    issues = check(refdata, add_mapping(refdata, kind, code, pid))
    assert len(issues) == 1
    row = issues.iloc[0]
    assert (row["company_id"], row["kind"], row["source_code"], row["platform_id"], row["rule"]) == (
        "c-gbp", kind, code, pid, rule)
    assert fragment in row["message"]
    assert "c-gbp" in row["message"] and f"'{code}'" in row["message"]


def test_archived_or_deleted_targets_are_reported_with_what_to_do(refdata):
    accounts = refdata["accounts"].copy()
    gbp = accounts["company_id"] == "c-gbp"
    accounts.loc[gbp & (accounts["platform_id"] == "inc-sales"), "status"] = "Archived"
    accounts.loc[gbp & (accounts["platform_id"] == "bank-card"), "is_deleted"] = True
    issues = check(refdata, accounts=accounts).set_index("platform_id")
    assert issues.loc["inc-sales", "rule"] == "mapping_target_archived"
    assert "choose an active Income account" in issues.loc["inc-sales", "message"]
    assert "is deleted" in issues.loc["bank-card", "message"]
    assert "choose an active bank account" in issues.loc["bank-card", "message"]
    assert set(issues["company_id"]) == {"c-gbp"}


def test_parent_tracking_category_is_the_wrong_kind(refdata):
    tracking = refdata["tracking_categories"].copy()
    tracking.loc[tracking["platform_id"] == "tc-north", "has_children"] = True
    issues = check(refdata, tracking_categories=tracking)
    assert set(issues["rule"]) == {"mapping_wrong_kind"} and len(issues) == 3  # one per company
    assert "without sub-categories" in issues.iloc[0]["message"]


def test_resolve_falls_back_to_the_default_and_marks_broken_codes(refdata):
    accounts = refdata["accounts"].copy()
    accounts.loc[(accounts["company_id"] == "c-gbp")
                 & (accounts["platform_id"] == "inc-sales"), "type"] = "Expense"
    issues = check(refdata, accounts=accounts)
    lookup = resolve_mappings(refdata["mappings"], issues)
    assert lookup.platform_id("c-gbp", "income_account", "SALES") is None
    assert lookup.is_broken("c-gbp", "income_account", "SALES")
    assert lookup.platform_id("c-gbp", "income_account", "OTHER") == "inc-other"  # '*' default
    assert lookup.platform_id("c-gbp", "income_account", None) == "inc-other"
    assert lookup.platform_id("c-jpy", "income_account", "SALES") == "inc-sales"  # other company unaffected
    assert lookup.platform_id("nobody", "income_account", "SALES") is None
    res = lookup.resolve(pd.Series(["c-gbp", "c-gbp", "c-jpy"]), "income_account",
                         pd.Series(["SALES", "MISC", "SALES"], dtype="string"))
    assert res.platform_id.tolist() == [None, "inc-other", "inc-sales"]
    assert res.broken.tolist() == [True, False, False]
    assert "not an Income account" in res.issue.iloc[0]
    assert res.used_code.tolist() == ["SALES", "*", "SALES"]
    assert res.unmapped.tolist() == [False, False, False]


def test_unmapped_code_without_default(refdata):
    maps = refdata["mappings"]
    maps = maps[~((maps["kind"] == "tax_rate") & (maps["source_code"] == "*"))]
    lookup = resolve_mappings(maps, check(refdata, maps))
    res = lookup.resolve(pd.Series(["c-gbp"]), "tax_rate", pd.Series(["ZERO"]))
    assert res.unmapped.tolist() == [True] and res.platform_id.tolist() == [None]


# -- on reference data nobody tidied: repeated ids, NULL ids and flags, several companies ---------------

_IDS = st.sampled_from(["a", "b", "c", None])
_FLAG = st.sampled_from([True, False, None])
_ACCOUNTS = st.lists(st.fixed_dictionaries({
    "company_id": st.sampled_from(["c1", "c2"]), "platform_id": _IDS, "name": st.just("Acct"),
    "status": st.sampled_from(["Active", "Archived", None]), "is_deleted": _FLAG,
    "type": st.sampled_from(["Income", "Expense", None]), "is_bank_account": _FLAG,
}), max_size=6)
_MAPPINGS = st.lists(st.fixed_dictionaries({
    "company_id": st.sampled_from(["c1", "c2"]),
    "kind": st.sampled_from(["income_account", "fee_account", "payment_account", "tax_rate", "bogus"]),
    "source_code": st.sampled_from(["s1", "s2", "*"]), "platform_id": _IDS,
}), max_size=8)
_EMPTY = pd.DataFrame(columns=["company_id", "platform_id"])


@settings(max_examples=80, deadline=None)
@given(accounts=_ACCOUNTS, mappings=_MAPPINGS)
def test_every_account_mapping_is_judged_by_the_last_row_of_its_own_companys_record(accounts, mappings):
    """A mapping raises at most one issue; it is judged by the last reference row of its own company
    and id (a NULL id matches nothing); and listing the mappings in another order changes nothing."""
    maps = pd.DataFrame(mappings, columns=["company_id", "kind", "source_code", "platform_id"])
    issues = check_mappings(maps, pd.DataFrame(accounts), _EMPTY, _EMPTY, _EMPTY)
    by_mapping = issues.groupby(["company_id", "kind", "source_code", "platform_id"], dropna=False).size()
    assert (by_mapping <= maps.value_counts(dropna=False).reindex(by_mapping.index)).all()
    last = {(a["company_id"], a["platform_id"]): a for a in accounts if a["platform_id"] is not None}
    for m in mappings:
        got = set(issues[(issues["company_id"] == m["company_id"]) & (issues["kind"] == m["kind"])
                         & (issues["source_code"] == m["source_code"])
                         & (issues["platform_id"].isna() if m["platform_id"] is None
                            else issues["platform_id"] == m["platform_id"])]["rule"])
        record = last.get((m["company_id"], m["platform_id"]))
        if m["kind"] == "bogus":
            assert got == {"mapping_kind_unknown"}
        elif m["kind"] == "tax_rate" or record is None:
            assert got == {"mapping_target_missing"}  # no tax rates at all; an account is not one
        elif record["status"] == "Archived" or record["is_deleted"]:
            assert got == {"mapping_target_archived"}
        else:
            wanted = {"income_account": record["type"] == "Income",
                      "fee_account": record["type"] == "Expense",
                      "payment_account": bool(record["is_bank_account"])}[m["kind"]]
            assert got == (set() if wanted else {"mapping_wrong_kind"})
    shuffled = check_mappings(maps.iloc[::-1], pd.DataFrame(accounts), _EMPTY, _EMPTY, _EMPTY)
    assert sorted(map(repr, shuffled.to_dict("records"))) == sorted(map(repr, issues.to_dict("records")))
