"""The mapping check: is every row of ``ar_mappings`` usable against the platform's reference data?

A mapping is what the user picked in their mapping screen (WAREHOUSE.md ``ar_mappings``). It is a
configuration error when it points at a record the platform does not have, at an archived or deleted
one, or at the wrong kind of record. :func:`check_mappings` lists those errors and
:func:`check_platform_mappings` those the connection's push model refuses (plus a note per data type the
platform publishes no model for); :func:`resolve_mappings` turns the mappings plus the errors into a
:class:`MappingLookup` that validation and transform use.

    >>> issues = check_mappings(mappings, accounts, bank_accounts, tax_rates, tracking_categories)
    >>> issues = pd.concat([issues, check_platform_mappings(mappings, push_options_rows)])
    >>> lookup = resolve_mappings(mappings, issues)
    >>> lookup.resolve(lines["company_id"], "income_account", lines["revenue_code"])  # vectorised

Decisions:
- ``fee_account`` must be an **Expense** account. A contra-revenue (Income) account would net fees
  against sales, but a fee is pushed as a direct cost, which platforms expect on an expense account.
- ``payment_account`` must be an account with ``is_bank_account`` true (CONTRACT §11.10); the
  ``ar_ref_bank_accounts`` table is consulted only for a better message when the id is a bank account
  record but not a usable ledger account.
- A tax rate needs an effective (or, failing that, total) rate, otherwise no tax can be computed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from receivables.nulls import as_objects

KINDS = ("income_account", "fee_account", "payment_account", "tax_rate", "tracking_category")
ISSUE_COLUMNS = ["company_id", "kind", "source_code", "platform_id", "rule", "message"]
DEFAULT_CODE = "*"
# The reference data types (extract.REFERENCE_TYPES) that check_mappings reads.
CHECKED_AGAINST = ("accounts", "bankAccounts", "taxRates", "trackingCategories")

# What the user sees, per kind, as the thing to pick.
_WHAT_TO_CHOOSE = {
    "income_account": "an active Income account",
    "fee_account": "an active Expense account",
    "payment_account": "an active bank account",
    "tax_rate": "an active tax rate",
    "tracking_category": "an active tracking category with no sub-categories",
}


def _reference(frame: pd.DataFrame, extra: list[str]) -> dict[tuple, dict[str, Any]]:
    """The fields of one ``ar_ref_*`` frame that the check needs, by (company, platform id) — the last row
    of an id wins; a NULL id is never a match. Plain dicts: a company's few hundred reference rows
    cost more as frame operations (reindex, dedupe, a merge per kind) than as one pass."""
    cols = ["company_id", "platform_id", "name", "status", "is_deleted", *extra]
    by_id = {}
    for row in frame.reindex(columns=cols).to_dict("records"):
        if not pd.isna(row["platform_id"]):
            row["archived"] = row["status"] == "Archived" or _is_true(row["is_deleted"])
            by_id[(row["company_id"], row["platform_id"])] = row
    return by_id


def _is_true(value: Any) -> bool:
    """A boolean field where NULL counts as False."""
    return value is not None and not pd.isna(value) and bool(value)


def _wrong_kind_reason(kind: str, row: Mapping[str, Any]) -> str | None:
    """Why the referenced record cannot serve as ``kind`` (None when it can)."""
    if kind == "income_account":
        if row["type"] != "Income":
            return f"is a {row['type'] or 'untyped'} account, not an Income account"
    elif kind == "fee_account":
        if row["type"] != "Expense":
            return f"is a {row['type'] or 'untyped'} account, not an Expense account"
    elif kind == "payment_account":
        is_bank = pd.notna(row["is_bank_account"]) and bool(row["is_bank_account"])
        if not is_bank:
            return "is not a bank account (is_bank_account is false)"
    elif kind == "tracking_category":
        if pd.notna(row["has_children"]) and bool(row["has_children"]):
            return "is a parent category; lines may only use a category without sub-categories"
    elif kind == "tax_rate":
        if pd.isna(row["effective_tax_rate"]) and pd.isna(row["total_tax_rate"]):
            return "has neither an effective nor a total tax rate"
    return None


_TARGET_TABLE = {
    "income_account": "account",
    "fee_account": "account",
    "payment_account": "account",
    "tax_rate": "tax_rate",
    "tracking_category": "tracking_category",
}


def _issue(row: Mapping[str, Any], rule: str, what: str) -> dict[str, Any]:
    """One issue row: the mapping, the rule it breaks and a message saying what to pick instead."""
    kind = row["kind"]
    todo = (f"choose {_WHAT_TO_CHOOSE[kind]} for it in the mapping screen" if kind in _WHAT_TO_CHOOSE
            else f"use one of {', '.join(KINDS)}")
    return {
        "company_id": row["company_id"], "kind": kind, "source_code": row["source_code"],
        "platform_id": row["platform_id"], "rule": rule,
        "message": (f"company {row['company_id']}: {kind} mapping for code '{row['source_code']}' "
                    f"-> platform id '{row['platform_id']}' {what}; {todo}"),
    }


def _kind_issues(kind: str, group: pd.DataFrame, refs: Mapping[str, Mapping[tuple, dict[str, Any]]],
                 bank_ids: set) -> list[dict[str, Any]]:
    """The issues of one kind's mappings against the reference data they point into."""
    if kind not in _TARGET_TABLE:
        return [_issue(row, "mapping_kind_unknown", f"has an unknown kind '{kind}'")
                for row in group.to_dict("records")]
    target = _TARGET_TABLE[kind]
    by_id = refs[target]
    issues = []
    for mapping in group.to_dict("records"):  # dicts: iterrows makes a Series per row
        found = by_id.get((mapping["company_id"], mapping["platform_id"]))
        row = mapping if found is None else {**mapping, **found}
        if found is None or row["platform_id"] is None:
            where = "the chart of accounts" if target == "account" else "the platform"
            hint = ""
            if kind == "payment_account" and (row["company_id"], row["platform_id"]) in bank_ids:
                hint = " (it is a bank account record, but not one of the ledger's accounts)"
            issues.append(_issue(row, "mapping_target_missing", f"does not exist in {where}{hint}"))
        elif row["archived"]:
            state = "is deleted" if _is_true(row["is_deleted"]) else "is archived"
            issues.append(_issue(row, "mapping_target_archived", f"points at '{row['name']}', which {state}"))
        else:
            reason = _wrong_kind_reason(kind, row)
            if reason:
                issues.append(_issue(row, "mapping_wrong_kind", f"points at '{row['name']}', which {reason}"))
    return issues


def check_mappings(
    mappings: pd.DataFrame,
    accounts: pd.DataFrame,
    bank_accounts: pd.DataFrame,
    tax_rates: pd.DataFrame,
    tracking_categories: pd.DataFrame,
) -> pd.DataFrame:
    """One row per unusable mapping: company_id, kind, source_code, platform_id, rule, message.

    Rules: ``mapping_kind_unknown``, ``mapping_target_missing``, ``mapping_target_archived``,
    ``mapping_wrong_kind``. A mapping raises at most one issue (the first of that order).
    """
    refs = {
        "account": _reference(accounts, ["nominal_code", "type", "currency", "is_bank_account"]),
        "tax_rate": _reference(tax_rates, ["code", "effective_tax_rate", "total_tax_rate"]),
        "tracking_category": _reference(tracking_categories, ["parent_id", "has_children"]),
    }
    bank_ids = set(
        zip(bank_accounts.get("company_id", []), bank_accounts.get("platform_id", []), strict=False)
    )
    maps = _mapping_rows(mappings)
    issues = [issue for kind, group in maps.groupby("kind", sort=True, dropna=False)
              for issue in _kind_issues(kind, group, refs, bank_ids)]
    return pd.DataFrame(issues, columns=ISSUE_COLUMNS)


def _mapping_rows(mappings: pd.DataFrame) -> pd.DataFrame:
    maps = mappings.reindex(columns=["company_id", "kind", "source_code", "platform_id"]).astype(object)
    return maps.where(maps.notna(), None)


# -- what the platform's push model accepts (ar_ref_push_options) ----------------------------------------

# Where each kind's platform id goes in a push: (Codat data type, the id's property paths, and the
# property whose absence from a described line means the platform takes no such reference at all).
_PUSHED_AS: Mapping[str, tuple[tuple[str, tuple[str, ...], str | None], ...]] = {
    "income_account": (("invoices", ("lineItems.accountRef.id",), None),
                       ("creditNotes", ("lineItems.accountRef.id",), None)),
    "tax_rate": (("invoices", ("lineItems.taxRateRef.id",), None),
                 ("creditNotes", ("lineItems.taxRateRef.id",), None)),
    "tracking_category": tuple(
        (data_type, ("lineItems.tracking.categoryRefs.id", "lineItems.trackingCategoryRefs.id"),
         "tracking") for data_type in ("invoices", "creditNotes")),
    "payment_account": (("payments", ("accountRef.id",), None),),
    "fee_account": (("directCosts", ("lineItems.accountRef.id",), None),),
}
PLATFORM_OPTIONS_KIND = "platform_options"  # ar_mapping_issues.kind of a note about a connection's model


class _PublishedModels:
    """Each (company, data type)'s published push model — the platform's name and its properties by
    path — taken out of the options once, not again for every mapping that points into it."""

    def __init__(self, options: pd.DataFrame) -> None:
        self.options = options
        self.company_ids = options["company_id"].astype(str)
        self._models: dict[tuple[str, str], tuple[str, pd.DataFrame]] = {}

    def of(self, company_id: str, data_type: str) -> tuple[str, pd.DataFrame]:
        key = (company_id, data_type)
        if key not in self._models:
            options = self.options
            model = options[(self.company_ids == company_id) & (options["data_type"] == data_type)]
            platform = next(iter(model["platform_name"].dropna()), None) or "the platform"
            self._models[key] = platform, model.set_index("property_path")
        return self._models[key]


def _model_issue(row: Mapping[str, Any], models: _PublishedModels) -> str | None:
    """Why the platform's published model cannot take this mapping's id (None when it can or is silent)."""
    for data_type, paths, needed in _PUSHED_AS.get(row["kind"], ()):
        platform, described = models.of(str(row["company_id"]), data_type)
        prop = next((described.loc[p] for p in paths if p in described.index), None)
        if prop is None:
            lines_described = (described.index.str.startswith("lineItems.")).any()
            takes_it = any(p.startswith(f"lineItems.{needed}") for p in described.index) if needed else True
            if lines_described and not takes_it:
                return f"cannot be sent: {platform} takes no {needed} category on {data_type} lines"
            continue
        pid = str(row["platform_id"])
        allowed = prop["allowed_values"]
        if isinstance(allowed, str) and pid not in json.loads(allowed):
            return f"is not among the values {platform} accepts for {data_type} ({paths[0]})"
        limit = prop["max_length"]
        if limit is not None and not pd.isna(limit) and len(pid) > int(limit):
            return f"is longer than the {int(limit)} characters {platform} accepts in {paths[0]}"
    return None


def _unpublished_notes(options: pd.DataFrame) -> list[dict[str, Any]]:
    """One note per connection and data type whose platform publishes no push model."""
    silent = options[~options["published"].astype("boolean").fillna(False).astype(bool)]
    return [{
        "company_id": r["company_id"], "kind": PLATFORM_OPTIONS_KIND, "source_code": r["data_type"],
        "platform_id": r["connection_id"], "rule": "platform_options_unpublished",
        "message": (f"company {r['company_id']}: connection {r['connection_id']} "
                    f"({r['platform_name'] or 'platform unknown'}) publishes no push rules for "
                    f"{r['data_type']} ({r['note'] or 'none published'}); only the gate's own rules apply, "
                    "so the platform may still refuse a document when it is pushed"),
    } for r in silent.to_dict("records")]


def check_platform_mappings(mappings: pd.DataFrame, options: pd.DataFrame | None) -> pd.DataFrame:
    """Mappings the connection's push model refuses, and notes on connections that publish no model.

    ``options``: the company's rows of ``ar_ref_push_options``. Rules: ``mapping_platform_rule`` (an id
    outside the allowed values, longer than the platform's limit, or a tracking category where the
    platform's lines take none: documents using it are rejected as ``broken_mapping``) and
    ``platform_options_unpublished`` (a note, kind ``platform_options``; it flags no mapping).
    """
    if options is None or options.empty:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    published = _PublishedModels(options[options["published"].astype("boolean").fillna(False).astype(bool)])
    issues = []
    for row in _mapping_rows(mappings).to_dict("records"):
        what = _model_issue(row, published) if row["platform_id"] is not None else None
        if what:
            issues.append(_issue(row, "mapping_platform_rule", what))
    return pd.DataFrame(issues + _unpublished_notes(options), columns=ISSUE_COLUMNS)


@dataclass(frozen=True)
class Resolution:
    """Vectorised answer of :meth:`MappingLookup.resolve`, aligned with the codes asked about.

    ``platform_id`` is None where unmapped; ``broken`` marks mappings that exist but were flagged;
    ``issue`` carries the flagged mapping's message; ``used_code`` is the code that matched (or ``*``).
    """

    platform_id: pd.Series
    broken: pd.Series
    issue: pd.Series
    used_code: pd.Series

    @property
    def unmapped(self) -> pd.Series:
        """Rows with neither their own mapping nor a ``*`` default."""
        return self.platform_id.isna() & ~self.broken


class MappingLookup:
    """Per company and kind, source code -> platform id, with the ``*`` default and broken marks.

    >>> lookup.platform_id("c1", "tax_rate", "VAT20")
    'tr-1'
    """

    def __init__(self, table: pd.DataFrame) -> None:
        # columns: company_id, kind, source_code, platform_id, broken (bool), issue (message or None)
        self.table = table.reset_index(drop=True)
        self._index = {
            (r.company_id, r.kind, r.source_code): (r.platform_id, bool(r.broken), r.issue)
            for r in self.table.itertuples(index=False)
        }

    def _entry(self, company_id: str, kind: str, code: object) -> tuple[object, bool, object, object]:
        if code is not None and not (isinstance(code, float) and pd.isna(code)) and code is not pd.NA:
            hit = self._index.get((company_id, kind, code))
            if hit is not None:
                return (*hit, code)
        hit = self._index.get((company_id, kind, DEFAULT_CODE))
        if hit is not None:
            return (*hit, DEFAULT_CODE)
        return None, False, None, None

    def platform_id(self, company_id: str, kind: str, code: object) -> str | None:
        """The usable platform id for ``code`` (or the ``*`` default); None if unmapped or broken."""
        pid, broken, _, _ = self._entry(company_id, kind, code)
        return None if broken else pid

    def is_broken(self, company_id: str, kind: str, code: object) -> bool:
        """Whether the mapping that ``code`` resolves to exists but was flagged by the check."""
        return self._entry(company_id, kind, code)[1]

    def resolve(self, company_ids: pd.Series, kind: str, codes: pd.Series) -> Resolution:
        """Resolve many (company, code) pairs of one kind at once; results keep ``codes``' index."""
        # Few distinct pairs in practice: resolve each once, then broadcast.
        keys = list(zip(company_ids.astype(object), as_objects(codes),
                        strict=True))
        cache = {k: self._entry(k[0], kind, k[1]) for k in set(keys)}
        entries = [cache[k] for k in keys]
        idx = codes.index

        def col(i: int) -> pd.Series:
            return pd.Series([e[i] for e in entries], index=idx, dtype=object)

        broken = pd.Series([e[1] for e in entries], index=idx, dtype=bool)
        pid = col(0).where(~broken, None)
        return Resolution(platform_id=pid, broken=broken, issue=col(2), used_code=col(3))


def resolve_mappings(mappings: pd.DataFrame, issues: pd.DataFrame) -> MappingLookup:
    """Build the :class:`MappingLookup` from ``ar_mappings`` rows and :func:`check_mappings`' issues."""
    cols = ["company_id", "kind", "source_code", "platform_id"]
    table = mappings.reindex(columns=cols).astype(object)
    table = table.where(table.notna(), None)
    flagged = issues.reindex(columns=[*cols[:3], "message"]).astype(object).drop_duplicates(cols[:3])
    table = table.merge(flagged, on=cols[:3], how="left")
    table["broken"] = table["message"].notna()
    table["issue"] = table["message"].where(table["broken"], None)
    return MappingLookup(table[[*cols, "broken", "issue"]])
