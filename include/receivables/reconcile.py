"""Reconciliation: what the warehouse says against what the platform holds, one outcome per document.

:mod:`receivables.reconcile_scope` reads the inputs (the day's source documents, the push ledger, the
rejects, the platform read-back, earlier exceptions) and writes the two frames this returns to
``ar_reconciliation`` and ``ar_reconciliation_summary``. Nothing here does I/O.

    >>> result = reconcile(report_date=date(2026, 3, 2), run_id="run-1", source_docs=src, ledger=ledger,
    ...                    rejects=rejects, platform_docs=platform, previous_exceptions=prev)
    >>> result.rows[["document_key", "outcome", "reason"]]
    >>> result.exceptions          # the non-matched rows, what finance works through

Outcomes, in the order they take precedence for a source document: ``rejected`` (refused before push),
``push_failed`` (the platform refused it), ``pending`` (push not settled, or not pushed yet, or pushed
but not shown by a read-back whose refresh did not complete), ``missing_in_platform``,
``duplicate_in_platform``, ``amount_mismatch``, ``status_mismatch``, ``matched``.
A live platform record of a synced customer that no ledger row explains is ``unexpected_in_platform``.

Optional input columns: ``source_docs.waiting_on`` (text naming the document a payment or allocation
waits for: shown in the pending reason) and ``platform_docs.due_date`` (ages platform-only invoices).
Output dates are datetime64 at midnight, money is Decimal (None when absent), text is pandas ``string``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from receivables.documents import EXCEPTION_OUTCOMES, KINDS, LedgerStatus, Outcome
from receivables.money import as_decimal, from_minor, is_finite_amount, sum_amounts
from receivables.nulls import as_objects

__all__ = ["ACTIONS", "AGING_BUCKETS", "EXCEPTION_OUTCOMES", "ROW_COLUMNS", "SUMMARY_COLUMNS",
           "Reconciliation", "exception_ids", "reconcile", "summarise"]

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")

# Kinds the platform read-back shows; the others (customers, fees, credit-note allocations) are matched
# on the ledger's word alone.
CHECKED_KINDS = tuple(k.name for k in KINDS if k.read_back)
# Kinds whose open balance (invoice amountDue, credit note remainingCredit) is compared.
AMOUNT_DUE_KINDS = tuple(k.name for k in KINDS if k.amount_due_field)

ROW_COLUMNS = [
    "report_date", "company_id", "document_type", "document_key", "source_id", "document_number",
    "platform_id", "currency", "source_total", "platform_total", "source_amount_due", "platform_amount_due",
    "difference", "outcome", "reason", "due_date", "days_overdue", "aging_bucket", "run_id",
    "exception_id", "first_seen_date", "action",
]
SUMMARY_COLUMNS = [
    "report_date", "company_id", "outcome", "currency", "document_count", "source_amount",
    "platform_amount", "difference", "run_id", "amount_open", "amount_overdue",
]
_MONEY_COLUMNS = ("source_total", "platform_total", "source_amount_due", "platform_amount_due", "difference")
_TEXT_COLUMNS = (
    "company_id", "document_type", "document_key", "source_id", "document_number", "platform_id",
    "currency", "outcome", "reason", "aging_bucket", "run_id", "exception_id", "action",
)
_KEY = ["company_id", "document_type", "source_id"]

# What finance should do about each outcome: one runbook line each.
ACTIONS = {
    Outcome.REJECTED: "Fix the source row in the warehouse (rule: {rules}); the next run pushes it.",
    Outcome.PUSH_FAILED: (
        "The platform refused this document (see reason): correct the warehouse row or the account/tax "
        "mapping it uses; the next run pushes it again."
    ),
    Outcome.PENDING: (
        "Nothing to do yet: the push has not settled or waits on another document; the next run checks "
        "it again. Escalate to engineering if it stays pending for more than two days."
    ),
    Outcome.MISSING_IN_PLATFORM: (
        "The platform no longer has the record the sync created (deleted or never stored): check the "
        "platform's audit log, then ask engineering to push the document again."
    ),
    Outcome.DUPLICATE_IN_PLATFORM: (
        "Void the extra copies in the platform and keep the record the sync created (platform id in "
        "this row); the next run checks again."
    ),
    Outcome.AMOUNT_MISMATCH: (
        "Open the document in the platform and in the warehouse: find which side was changed (edit in "
        "the platform, tax rate, rounding) and correct the wrong one."
    ),
    Outcome.STATUS_MISMATCH: (
        "Totals agree but the amount still due does not: record the missing payment or credit on the "
        "side that lacks it so both show the same balance."
    ),
    Outcome.UNEXPECTED_IN_PLATFORM: (
        "This record was created in the platform, not by the sync: if it belongs in the books add it to "
        "the warehouse source, otherwise void it in the platform."
    ),
}


@dataclass(frozen=True)
class Reconciliation:
    """The outcome of one reconciliation: one row per document (``rows``) and the per-outcome totals."""

    rows: pd.DataFrame
    summary: pd.DataFrame

    @property
    def exceptions(self) -> pd.DataFrame:
        """The rows finance has to look at (every outcome but ``matched``)."""
        return self.rows[self.rows["outcome"] != Outcome.MATCHED]


# --- input preparation ----------------------------------------------------------------------------


def _prepare(frame: pd.DataFrame | None, name: str, required: list[str], optional: dict) -> pd.DataFrame:
    """A copy of ``frame`` with every required and optional column (optional ones filled with defaults)."""
    if frame is None or (len(frame) == 0 and len(frame.columns) == 0):
        frame = pd.DataFrame(columns=required)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}")
    out = frame.reset_index(drop=True).copy()
    for column, default in optional.items():
        if column not in out.columns:
            out[column] = default
    return out


def _text(values: pd.Series) -> pd.Series:
    """A TEXT column: pandas string dtype with <NA> for missing values."""
    if isinstance(values.dtype, pd.StringDtype):  # a text column already: only its NA flavour may change
        return values.astype("string")
    return as_objects(values).astype("string")


def _money(values: pd.Series) -> pd.Series:
    """A money column: exact Decimals in an object Series, None for missing values."""
    return pd.Series(
        [as_decimal(v) if is_finite_amount(v) else None for v in values], index=values.index, dtype=object
    )


def _dates(values: pd.Series) -> pd.Series:
    """A DATE column: datetime64 at midnight, from datetime64 values or ``datetime.date`` objects."""
    return pd.to_datetime(as_objects(values)).dt.normalize().astype(
        "datetime64[ns]"
    )


def _flag(values: pd.Series, default: bool) -> pd.Series:
    """A boolean column where missing values take ``default``."""
    return as_objects(values, default).astype(bool)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in _KEY:
        frame[column] = _text(frame[column])
    return frame.drop_duplicates(_KEY, keep="last")


# --- vectorised money helpers ---------------------------------------------------------------------


def _subtract(left: pd.Series, right: pd.Series) -> pd.Series:
    """``left - right`` where both are present, else None (object Series of Decimals)."""
    out = pd.Series(None, index=left.index, dtype=object)
    both = left.notna() & right.notna()
    out[both] = left[both] - right[both]
    return out


def _exceeds(delta: pd.Series, tolerance: pd.Series) -> pd.Series:
    """Whether |delta| is above the tolerance; False where delta is missing."""
    out = pd.Series(False, index=delta.index)
    present = delta.notna()
    out[present] = (delta[present].abs() > tolerance[present]).astype(bool)
    return out


def _tolerances(currencies: pd.Series, tolerance_minor_units: int) -> pd.Series:
    """The tolerance as an amount in each row's currency (``2`` minor units is 0.02 GBP, 2 JPY)."""
    filled = as_objects(currencies, "")
    per_currency = {c: from_minor(tolerance_minor_units, c) for c in filled.unique()}
    return filled.map(per_currency).astype(object)


# --- the reconciliation ---------------------------------------------------------------------------


def _source_documents(source_docs, ledger, rejects) -> pd.DataFrame:
    """Every source document the report covers, with its source, ledger and reject facts side by side.

    The report covers the day's batch and open carried-over documents (``source_docs``), every document
    rejected this run, and every ledger row whose push is not a success (still unresolved).
    """
    src = _keyed(_prepare(source_docs, "source_docs", [*_KEY, "document_number", "currency", "source_total"],
                          {"customer_id": None, "source_amount_due": None, "due_date": None, "in_batch": True,
                           "waiting_on": None}))
    led = _keyed(_prepare(ledger, "ledger", [*_KEY, "status"],
                          {"document_number": None, "currency": None, "source_total": None,
                           "platform_id": None, "last_error": None}))
    rej = _prepare(rejects, "rejects", [*_KEY, "rule"], {"message": None})
    for column in _KEY:
        rej[column] = _text(rej[column])

    led["status"] = _text(led["status"]).str.lower()
    rej["rule"] = _text(rej["rule"]).fillna("unknown rule")
    message = _text(rej["message"])
    rej["_line"] = (rej["rule"] + ": " + message).fillna(rej["rule"])
    rej = rej.sort_values([*_KEY, "rule", "_line"])
    if rej.empty:  # most nights reject nothing; an empty groupby costs several milliseconds
        rej_by_doc = pd.DataFrame({c: pd.Series(dtype="string")
                                   for c in [*_KEY, "reject_reason", "reject_rules"]})
    else:
        rej_by_doc = rej.groupby(_KEY, sort=False).agg(
            reject_reason=("_line", "; ".join), reject_rules=("rule", lambda s: ", ".join(dict.fromkeys(s)))
        ).reset_index()

    unresolved = led.loc[led["status"].fillna("") != LedgerStatus.SUCCESS, _KEY]
    keys = pd.concat([src[_KEY], rej_by_doc[_KEY], unresolved], ignore_index=True).drop_duplicates()

    led = led[[*_KEY, "document_number", "currency", "source_total", "platform_id", "status", "last_error"]]
    led = led.rename(columns={"document_number": "led_number", "currency": "led_currency",
                              "source_total": "led_total", "status": "ledger_status"})
    docs = (
        keys.merge(src[[*_KEY, "document_number", "currency", "source_total", "source_amount_due", "due_date",
                        "waiting_on"]], on=_KEY, how="left")
        .merge(led, on=_KEY, how="left")
        .merge(rej_by_doc, on=_KEY, how="left")
    )
    docs["document_number"] = _text(docs["document_number"]).fillna(_text(docs["led_number"]))
    docs["currency"] = _text(docs["currency"]).fillna(_text(docs["led_currency"]))
    source_total = _money(docs["source_total"])
    docs["source_total"] = source_total.where(source_total.notna(), _money(docs["led_total"]))
    docs["source_amount_due"] = _money(docs["source_amount_due"])
    docs["platform_id"] = _text(docs["platform_id"])
    docs["document_key"] = docs["source_id"]
    return docs.drop(columns=["led_number", "led_currency", "led_total"])


def _platform_records(platform_docs) -> pd.DataFrame:
    plat = _prepare(platform_docs, "platform_docs",
                    ["company_id", "document_type", "platform_id", "document_number", "currency",
                     "platform_total"],
                    {"platform_amount_due": None, "platform_status": None, "is_deleted": False,
                     "synced_customer": True, "customer_platform_id": None, "due_date": None})
    for column in ("company_id", "document_type", "platform_id", "document_number", "currency"):
        plat[column] = _text(plat[column])
    plat["platform_total"] = _money(plat["platform_total"])
    plat["platform_amount_due"] = _money(plat["platform_amount_due"])
    plat["is_deleted"] = _flag(plat["is_deleted"], False)
    plat["synced_customer"] = _flag(plat["synced_customer"], True)
    return plat.drop_duplicates(["company_id", "document_type", "platform_id"], keep="last")


_GROUP_KEY = ["company_id", "document_type", "document_number"]


def _duplicate_groups(plat: pd.DataFrame) -> pd.DataFrame:
    """Document numbers shared by two or more live platform records of one type, with their ids."""
    live = plat[~plat["is_deleted"] & plat["document_number"].notna()]
    # Only shared numbers need grouping; most numbers are unique.
    live = live[live.duplicated(_GROUP_KEY, keep=False)]
    if live.empty:  # the usual night: no shared number, and grouping nothing costs more than the rest here
        return pd.DataFrame({**{c: pd.Series(dtype="string") for c in _GROUP_KEY}, "copies": pd.Series(
            dtype="Int64"), "copy_ids": pd.Series(dtype="string")})
    groups = live.sort_values("platform_id").groupby(
        _GROUP_KEY, sort=False
    ).agg(copies=("platform_id", "size"), copy_ids=("platform_id", ", ".join)).reset_index()
    return groups[groups["copies"] >= 2]


def _classify(docs: pd.DataFrame, tolerance_minor_units: int, stale: Mapping[str, str]) -> pd.DataFrame:
    """Give each source document its outcome and reason (vectorised over the frame)."""
    rules = _outcome_rules(docs, tolerance_minor_units, stale)
    docs["outcome"] = np.select([when.to_numpy() for _, when in rules], [o.value for o, _ in rules],
                                default=Outcome.MATCHED.value)
    reason = pd.Series(pd.NA, index=docs.index, dtype="string")
    for outcome, text in _reasons(docs).items():
        reason = reason.mask(docs["outcome"] == outcome, text)
    docs["reason"] = reason
    return docs


def _outcome_rules(docs: pd.DataFrame, tolerance_minor_units: int,
                   stale: Mapping[str, str]) -> list[tuple[Outcome, pd.Series]]:
    """Each outcome with the rows it applies to, in precedence order (the first that applies wins).

    Also sets the columns the reasons read: ``difference``, ``_deleted``, ``_currency_differs`` and
    ``_unseen`` (a pushed document the read-back did not show while its list may lag: pending, not
    missing).
    """
    status = docs["ledger_status"].fillna("")
    checked = docs["document_type"].isin(CHECKED_KINDS)
    found = docs["found"].fillna(False).astype(bool)
    docs["_deleted"] = deleted = docs["platform_deleted"].fillna(False).astype(bool)
    tolerance = _tolerances(docs["currency"], tolerance_minor_units)

    docs["difference"] = _subtract(docs["platform_total"], docs["source_total"])
    docs["_currency_differs"] = found & docs["platform_currency"].notna() & docs["currency"].notna() & (
        docs["platform_currency"] != docs["currency"]
    ).fillna(False)
    no_platform_total = found & docs["platform_total"].isna() & docs["source_total"].notna()
    amount_off = docs["_currency_differs"] | no_platform_total | _exceeds(docs["difference"], tolerance)
    due_delta = _subtract(docs["platform_amount_due"], docs["source_amount_due"])
    due_off = docs["document_type"].isin(AMOUNT_DUE_KINDS) & _exceeds(due_delta, tolerance)
    docs["_unseen"] = checked & ~found & docs["document_type"].isin(list(stale))
    docs["_stale_why"] = docs["document_type"].map(dict(stale)).astype("string")
    return [
        (Outcome.REJECTED, docs["reject_reason"].notna()),
        (Outcome.PUSH_FAILED, status == LedgerStatus.FAILED),
        (Outcome.PENDING, status != LedgerStatus.SUCCESS),
        (Outcome.PENDING, docs["_unseen"]),
        (Outcome.MISSING_IN_PLATFORM, checked & ~found | checked & deleted),
        (Outcome.DUPLICATE_IN_PLATFORM, checked & (docs["copies"].fillna(0) >= 2)),
        (Outcome.AMOUNT_MISMATCH, checked & amount_off),
        (Outcome.STATUS_MISMATCH, checked & due_off),
    ]


def _reasons(docs: pd.DataFrame) -> dict[Outcome, pd.Series]:
    """The reason shown for each outcome, per row (only the rows with that outcome use it)."""
    kind = docs["document_type"].str.replace("_", " ")
    number = docs["document_number"].fillna("(no number)")
    pid = docs["platform_id"].fillna("(none)")
    total_text = docs["platform_total"].astype("string").fillna("none")
    due_text = docs["platform_amount_due"].astype("string").fillna("none")
    pending_reason = ("waiting on " + _text(docs["waiting_on"])).fillna(
        "push status " + docs["ledger_status"]).fillna(
        "not pushed yet (waiting on another document or a later run)")
    unseen_reason = ("pushed as " + pid + ", but the platform's list may not show it yet ("
                     + docs["_stale_why"].fillna("not refreshed") + "): the next run checks it again")
    pending_reason = pending_reason.mask(docs["_unseen"], unseen_reason)
    missing_reason = ("pushed as " + pid + " but " + pd.Series(
        np.where(docs["_deleted"], "the platform shows it deleted", "the platform has no such record"),
        index=docs.index, dtype="string"))
    duplicate_reason = (docs["copies"].astype("Int64").astype("string") + " live " + kind
                        + "s in the platform have number " + number + ": "
                        + docs["copy_ids"].astype("string"))
    amount_reason = pd.Series(
        np.where(docs["_currency_differs"],
                 "currency differs: platform " + docs["platform_currency"].fillna("")
                 + ", source " + docs["currency"].fillna(""),
                 "platform total " + total_text + " vs source total "
                 + docs["source_total"].astype("string").fillna("none")),
        index=docs.index, dtype="string")
    return {
        Outcome.REJECTED: docs["reject_reason"].astype("string"),
        Outcome.PUSH_FAILED: docs["last_error"].astype("string").fillna(
            "the platform refused the push (no message)"),
        Outcome.PENDING: pending_reason,
        Outcome.MISSING_IN_PLATFORM: missing_reason,
        Outcome.DUPLICATE_IN_PLATFORM: duplicate_reason,
        Outcome.AMOUNT_MISMATCH: amount_reason,
        Outcome.STATUS_MISMATCH: ("amount due " + due_text + " in the platform vs "
                                  + docs["source_amount_due"].astype("string").fillna("none")
                                  + " in the source"),
    }


def _unexpected(plat: pd.DataFrame, ledger_ids: pd.DataFrame, docs: pd.DataFrame) -> pd.DataFrame:
    """Live platform records of synced customers that no ledger row (nor a reported document) explains.

    A record is explained by a ledger row carrying its platform id, or by sharing its number with a
    document already reported as duplicated or pending (the duplicate row or next run covers it).
    """
    candidates = plat[
        plat["document_type"].isin(CHECKED_KINDS) & ~plat["is_deleted"] & plat["synced_customer"]
    ]
    by_id = candidates.merge(ledger_ids.assign(_by_id=True),
                             on=["company_id", "document_type", "platform_id"], how="left")
    covering = docs.loc[docs["outcome"].isin([Outcome.DUPLICATE_IN_PLATFORM, Outcome.PENDING])
                        & docs["document_number"].notna(), ["company_id", "document_type", "document_number"]]
    by_number = by_id.merge(covering.drop_duplicates().assign(_by_number=True),
                            on=["company_id", "document_type", "document_number"], how="left")
    extra = by_number[by_number["_by_id"].isna() & by_number["_by_number"].isna()].copy()
    extra["source_id"] = pd.Series(pd.NA, index=extra.index, dtype="string")
    extra["document_key"] = "platform:" + extra["platform_id"]
    extra["source_total"] = None
    extra["source_amount_due"] = None
    extra["difference"] = None
    extra["outcome"] = Outcome.UNEXPECTED_IN_PLATFORM
    extra["reason"] = ("no source document was pushed as this " + extra["document_type"].str.replace("_", " ")
                       + " (number " + extra["document_number"].fillna("(none)") + ")")
    return extra


def _aging(rows: pd.DataFrame, report_date: pd.Timestamp) -> pd.DataFrame:
    """Days overdue and aging bucket for open invoices (amount due > 0 by the source, else the platform)."""
    due = rows["source_amount_due"].where(rows["source_amount_due"].notna(), rows["platform_amount_due"])
    has_due = due.notna()
    open_amount = pd.Series(False, index=rows.index)
    open_amount[has_due] = (due[has_due] > 0).astype(bool)
    is_open = open_amount & (rows["document_type"] == "invoice") & rows["due_date"].notna()
    days = (report_date - rows["due_date"]).dt.days.astype("Int64").where(is_open)
    rows["days_overdue"] = days
    filled = days.fillna(0).to_numpy()
    bucket = np.select([filled <= 0, filled <= 30, filled <= 60, filled <= 90],
                       ["current", "1-30", "31-60", "61-90"], default="90+")
    rows["aging_bucket"] = pd.Series(bucket, index=rows.index, dtype="string").where(is_open)
    return rows


def exception_ids(company_id: pd.Series, document_type: pd.Series, document_key: pd.Series,
                  outcome: pd.Series) -> pd.Series:
    """Stable ids: the same company, document and outcome give the same id on every night it lasts."""
    ids = [
        "EX-" + hashlib.sha256("\x1f".join("" if pd.isna(p) else str(p) for p in parts).encode())
        .hexdigest()[:16].upper()
        for parts in zip(company_id, document_type, document_key, outcome, strict=True)
    ]
    return pd.Series(ids, index=company_id.index, dtype="string")


def _first_seen(ids: pd.Series, previous_exceptions, report_date: pd.Timestamp) -> pd.Series:
    prev = _prepare(previous_exceptions, "previous_exceptions", ["exception_id", "first_seen_date"], {})
    prev = prev[prev["exception_id"].notna() & prev["first_seen_date"].notna()]
    earliest = pd.DataFrame({"exception_id": _text(prev["exception_id"]),
                             "seen": _dates(prev["first_seen_date"])})
    earliest = earliest.groupby("exception_id", as_index=False)["seen"].min()
    seen = pd.DataFrame({"exception_id": ids}).merge(earliest, on="exception_id", how="left")["seen"]
    seen = pd.Series(seen.to_numpy(), index=ids.index).astype("datetime64[ns]")
    # A rerun of an earlier date must not report a first sighting later than that date.
    seen = seen.where(seen.notna() & (seen <= report_date), report_date)
    return seen.where(ids.notna())


def _actions(rows: pd.DataFrame) -> pd.Series:
    action = pd.Series(pd.NA, index=rows.index, dtype="string")
    for outcome, text in ACTIONS.items():
        if outcome == Outcome.REJECTED:
            line = ("Fix the source row in the warehouse (rule: " + rows["reject_rules"].fillna("see reason")
                    + "); the next run pushes it.")
        else:
            line = pd.Series(text, index=rows.index, dtype="string")
        action = action.mask(rows["outcome"] == outcome, line)
    return action


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Counts and Decimal totals per report date, company, outcome and currency.

    Documents without a currency (customers) are summed under currency ``""`` so the key stays NOT NULL.
    A total is None when no document of the group has that figure (e.g. platform amounts of rejects).
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS})
    # Open = what is still due on an open invoice (it has an aging bucket); overdue = the part past due.
    aged = rows["aging_bucket"].notna()
    due = rows["source_amount_due"].where(rows["source_amount_due"].notna(), rows["platform_amount_due"])
    overdue = aged & (rows["days_overdue"].fillna(0) > 0).astype(bool)
    keyed = rows.assign(currency=rows["currency"].fillna(""), _open=due.where(aged, None),
                        _overdue=due.where(overdue, None))

    def total(values: pd.Series) -> Decimal | None:
        present = values.dropna()
        return sum_amounts(present) if len(present) else None

    summary = keyed.groupby(["report_date", "company_id", "outcome", "currency"], sort=True).agg(
        document_count=("document_key", "size"),
        source_amount=("source_total", total),
        platform_amount=("platform_total", total),
        difference=("difference", total),
        run_id=("run_id", "first"),
        amount_open=("_open", total),
        amount_overdue=("_overdue", total),
    ).reset_index()
    summary["document_count"] = summary["document_count"].astype("int64")
    for column in ("source_amount", "platform_amount", "difference", "amount_open", "amount_overdue"):
        summary[column] = as_objects(summary[column])
    for column in ("company_id", "outcome", "currency", "run_id"):
        summary[column] = summary[column].astype("string")
    return summary[SUMMARY_COLUMNS]


def reconcile(
    *,
    report_date: date | datetime | pd.Timestamp,
    run_id: str,
    source_docs: pd.DataFrame | None,
    ledger: pd.DataFrame | None,
    rejects: pd.DataFrame | None,
    platform_docs: pd.DataFrame | None,
    previous_exceptions: pd.DataFrame | None,
    tolerance_minor_units: int = 0,
    stale_read_back: Mapping[str, str] | None = None,
) -> Reconciliation:
    """Reconcile one report date for one or many companies; see the module docstring for the outcomes.

    ``stale_read_back`` maps a document type to why its platform list may lag our pushes (its refresh
    did not complete): a pushed document of that type missing from ``platform_docs`` is ``pending``,
    not ``missing_in_platform``. Re-running with the same inputs gives identical rows (sorted by
    company, document type, document).
    """
    if tolerance_minor_units < 0:
        raise ValueError("tolerance_minor_units must be 0 or more")
    day = pd.Timestamp(report_date).normalize()
    plat = _platform_records(platform_docs)
    docs = _with_platform_records(_source_documents(source_docs, ledger, rejects), plat)
    docs = _classify(docs, tolerance_minor_units, stale_read_back or {})
    extra = _unexpected(plat, _ledger_ids(ledger, docs), docs)
    extra = extra.rename(columns={"due_date": "platform_due_date"})

    rows = pd.concat([docs, extra], ignore_index=True)
    for column in _MONEY_COLUMNS:
        rows[column] = as_objects(rows[column])
    rows["difference"] = _subtract(rows["platform_total"], rows["source_total"])
    rows["currency"] = _text(rows["currency"]).fillna(_text(rows["platform_currency"]))
    source_due = _dates(rows["due_date"])
    rows["due_date"] = source_due.where(source_due.notna(), _dates(rows["platform_due_date"]))
    rows["report_date"] = day
    rows["run_id"] = run_id
    rows = _with_exceptions(_aging(rows, day), previous_exceptions, day)
    rows = _typed_rows(rows)
    return Reconciliation(rows=rows, summary=summarise(rows))


def _with_platform_records(docs: pd.DataFrame, plat: pd.DataFrame) -> pd.DataFrame:
    """Each source document beside the platform record its ledger row points at, and its number's copies."""
    by_id = plat[["company_id", "document_type", "platform_id", "platform_total", "platform_amount_due",
                  "is_deleted", "currency", "due_date"]].rename(
        columns={"is_deleted": "platform_deleted", "currency": "platform_currency",
                 "due_date": "platform_due_date"})
    docs = docs.merge(by_id.assign(found=True), on=["company_id", "document_type", "platform_id"], how="left")
    docs = docs.merge(_duplicate_groups(plat), on=["company_id", "document_type", "document_number"],
                      how="left")
    docs["platform_total"] = as_objects(docs["platform_total"])
    docs["platform_amount_due"] = as_objects(docs["platform_amount_due"])
    return docs


def _ledger_ids(ledger: pd.DataFrame | None, docs: pd.DataFrame) -> pd.DataFrame:
    """The platform ids the whole ledger explains (every row, not only the reported ones)."""
    ids = docs[["company_id", "document_type", "platform_id"]]
    if ledger is not None and len(ledger.columns):
        all_ledger = _prepare(ledger, "ledger", [*_KEY, "status"], {"platform_id": None})
        ids = pd.DataFrame({c: _text(all_ledger[c]) for c in ["company_id", "document_type", "platform_id"]})
    return ids.dropna().drop_duplicates()


def _with_exceptions(rows: pd.DataFrame, previous_exceptions, day: pd.Timestamp) -> pd.DataFrame:
    """Exception ids, first sightings and the action to take, on every row that is not matched."""
    for column in ("company_id", "document_type", "document_key", "source_id", "outcome"):
        rows[column] = _text(rows[column])
    exceptional = rows["outcome"] != Outcome.MATCHED
    rows["exception_id"] = pd.Series(pd.NA, index=rows.index, dtype="string")
    open_rows = rows[exceptional]
    rows.loc[exceptional, "exception_id"] = exception_ids(
        open_rows["company_id"], open_rows["document_type"], open_rows["document_key"], open_rows["outcome"]
    )
    rows["first_seen_date"] = _first_seen(rows["exception_id"], previous_exceptions, day)
    if "reject_rules" not in rows:
        rows["reject_rules"] = pd.NA
    rows["reject_rules"] = _text(rows["reject_rules"])
    rows["action"] = _actions(rows)
    return rows


def _typed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The output rows: sorted, :data:`ROW_COLUMNS` only, each column of its documented type."""
    rows = rows.sort_values(["company_id", "document_type", "document_key"], kind="stable")
    rows = rows.reset_index(drop=True)
    rows = rows[ROW_COLUMNS].copy()
    for column in _TEXT_COLUMNS:
        rows[column] = _text(rows[column])
    for column in _MONEY_COLUMNS:
        rows[column] = as_objects(rows[column])
    for column in ("report_date", "due_date", "first_seen_date"):
        rows[column] = rows[column].astype("datetime64[ns]")
    rows["days_overdue"] = rows["days_overdue"].astype("Int64")
    return rows
