"""The gate: :func:`validate_batch` runs every rule over a day's batch, phase by phase.

Phases, each deciding what the next one may rely on: what earlier days tell (:func:`_earlier`),
customers, invoices and credit notes, the allocation targets they make, payments and credit-note
allocations, what waits (:mod:`receivables.readiness`), and last the open-amount simulation over what
is still going ahead. Per document the first failing rule of :data:`RULE_ORDER` is kept; its message
lists the other failed rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from receivables import platform_rules, readiness
from receivables.documents import BATCH_TABLES, KINDS, LABEL, allocation_keys
from receivables.mappings import MappingLookup
from receivables.readiness import WAITING_COLUMNS, Standing
from receivables.validate import allocation_rules as allocation
from receivables.validate import amount_rules as amounts
from receivables.validate import header_rules as header
from receivables.validate import mapping_rules as codes
from receivables.validate.frames import REJECT_COLUMNS, concat_failures, no_failures, objects, row_keys
from receivables.validate.normalise import (
    SALES_KINDS,
    Normalised,
    known_customer_names,
    normalise,
    normalise_known,
)

RULE_ORDER = [
    "unknown_customer",
    "customer_rejected",
    "invalid_status",
    "void_document",
    "invalid_currency",
    "missing_currency_rate",
    "invalid_date",
    "due_before_issue",
    "duplicate_document_number",
    "no_lines",
    "invalid_amount",
    "unmapped_revenue_code",
    "unmapped_tax_code",
    "unmapped_tracking_code",
    "broken_mapping",
    "platform_rule",
    "unmapped_payment_method",
    "missing_fee_account",
    "allocation_target_unknown",
    "allocation_customer_mismatch",
    "allocation_currency_mismatch",
    "allocation_exceeds_payment",
    "allocation_exceeds_open_amount",
]
_RANK = {rule: n for n, rule in enumerate(RULE_ORDER)}


@dataclass(frozen=True)
class ValidationResult:
    """What the gate decided. ``accepted`` holds the eight batch tables, filtered to what may be pushed."""

    accepted: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    waiting: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WAITING_COLUMNS))
    needs_manual_action: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WAITING_COLUMNS))


@dataclass(frozen=True)
class _Earlier:
    """What earlier days tell the gate."""

    base: dict              # company -> base currency
    known: pd.DataFrame     # invoices and credit notes of earlier days
    pushed: set             # (company, type, id) of records already in the platform
    customers: set          # (company, customer) known from earlier days or in the platform
    customer_names: pd.DataFrame
    open_amounts: pd.DataFrame | None


@dataclass(frozen=True)
class _Customers:
    rejects: pd.DataFrame
    rejected: set           # (company, customer) rejected today
    known: set              # in today's batch or known from earlier days
    ready: set              # accepted today or already in the platform: documents need not wait


@dataclass(frozen=True)
class _Sales:
    rejects: pd.DataFrame
    waiting: pd.DataFrame
    live: pd.DataFrame      # not void-and-pushed (those need manual action)
    manual: pd.DataFrame
    totals: dict
    rejected: set
    accepted: set


def validate_batch(
    batch: Mapping[str, pd.DataFrame],
    *,
    companies: pd.DataFrame,
    mappings: MappingLookup,
    tax_rates: pd.DataFrame | None = None,
    known_documents: pd.DataFrame | None = None,
    open_amounts: pd.DataFrame | None = None,
    platform_ids: pd.DataFrame | None = None,
    known_customers: pd.DataFrame | None = None,
    platform_options: pd.DataFrame | None = None,
) -> ValidationResult:
    """Run every rule over a day's batch; see :mod:`receivables.validate` for the decisions taken.

    ``batch`` maps the eight ``ar_*`` table names to frames (missing ones count as empty).
    ``known_documents``: company_id, document_type, source_id, customer_id, currency, total_amount,
    status, rejected (and optionally document_number) for invoices/credit notes of earlier days.
    ``open_amounts``: company_id, document_type, source_id, open_amount before today's allocations.
    ``platform_ids``: company_id, document_type, source_id[, platform_id] of records already pushed.
    ``known_customers``: company_id, customer_id (and optionally name) of customers from earlier days.
    ``platform_options``: the connection's published push rules (:mod:`receivables.platform_rules`).
    """
    earlier = _earlier(companies, known_documents, platform_ids, known_customers, open_amounts)
    rows = normalise(batch)
    platform = _by_kind(platform_rules.check(rows, platform_options, pushed=earlier.pushed))
    customers = _check_customers(rows, earlier, platform)
    sales = _check_sales(rows, earlier, customers, mappings, tax_rates, platform)
    targets = allocation.allocation_targets(sales.live, sales.totals, earlier.known, sales.rejected,
                                            sales.accepted, earlier.pushed, earlier.open_amounts)
    allocs = allocation.attach_payment_targets(rows.payments, rows.allocations, targets)
    cn_targets, cn_side = allocation.attach_cn_targets(rows.cn_allocations, targets)
    pre_rejects = _first_rule(concat_failures([
        _payment_failures(rows, allocs, earlier, customers, mappings),
        _cn_allocation_failures(rows, cn_targets),
        platform.get("payment"), platform.get("credit_note_allocation")]))
    pre_rejected = set(row_keys(pre_rejects, "document_type", "source_id"))
    waiting = readiness.concat_waiting(
        sales.waiting, _allocations_waiting(rows, targets, customers.ready, pre_rejected))
    # Open amounts, over what is still going ahead: a rejected or waiting document draws on nothing.
    going_ahead_not = pre_rejected | set(row_keys(waiting, "document_type", "source_id"))
    events = allocation.open_amount_events(rows.payments, allocs, rows.cn_allocations, cn_targets, cn_side,
                                           going_ahead_not)
    rejects = concat_failures([customers.rejects, sales.rejects, pre_rejects,
                               _first_rule(allocation.allocation_exceeds_open_amount(events))])
    manual = _needs_manual_action(sales.manual)
    return ValidationResult(accepted=_accepted(batch, rejects, waiting, manual),
                            rejects=rejects.reset_index(drop=True), waiting=waiting.reset_index(drop=True),
                            needs_manual_action=manual)


# ---------------------------------------------------------------------------------------- phases


def _earlier(companies, known_documents, platform_ids, known_customers, open_amounts) -> _Earlier:
    pushed = set(row_keys(platform_ids, "document_type", "source_id")) if platform_ids is not None else set()
    customers = set()
    if known_customers is not None and not known_customers.empty:
        customers = set(row_keys(known_customers, "customer_id"))
    customers |= {(c, s) for c, t, s in pushed if t == "customer"}
    return _Earlier(base=dict(zip(objects(companies["company_id"]), objects(companies["base_currency"]),
                                  strict=True)),
                    known=normalise_known(known_documents), pushed=pushed, customers=customers,
                    customer_names=known_customer_names(known_customers), open_amounts=open_amounts)


def _by_kind(failures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Failures split by document type, for the phase that decides each kind."""
    return {kind: rows[REJECT_COLUMNS] for kind, rows in failures.groupby("document_type", sort=False)}


def _check_customers(rows: Normalised, earlier: _Earlier, platform: dict[str, pd.DataFrame]) -> _Customers:
    rejects = _first_rule(concat_failures([
        header.invalid_currency(rows.customers, "default_currency"),
        header.duplicate_document_number(rows.customers, earlier.customer_names, number_col="name"),
        platform.get("customer"),
    ]))
    rejected = set(zip(rejects["company_id"], rejects["source_id"], strict=True))
    in_batch = set(row_keys(rows.customers, "customer_id"))
    in_platform = {(c, s) for c, t, s in earlier.pushed if t == "customer"}
    return _Customers(rejects=rejects, rejected=rejected, known=in_batch | earlier.customers,
                      ready=(in_batch - rejected) | in_platform)


def _check_sales(rows: Normalised, earlier: _Earlier, customers: _Customers, mappings: MappingLookup,
                 tax_rates: pd.DataFrame | None, platform: dict[str, pd.DataFrame]) -> _Sales:
    docs, lines = rows.docs, rows.lines
    keys = row_keys(docs, "document_type", "source_id")
    manual_mask = docs["status"].eq("void") & keys.isin(earlier.pushed)
    live = docs[~manual_mask]
    line_problems = amounts.find_line_problems(lines)
    totals = amounts.document_totals(live, lines, mappings, tax_rates, line_problems)
    rejects = _first_rule(concat_failures([
        _sales_header_failures(live, earlier, customers),
        header.no_lines(live, lines),
        amounts.invalid_amount(live, lines, totals, line_problems),
        _sales_mapping_failures(lines, live, mappings),
        _of(live, platform.get("invoice")), _of(live, platform.get("credit_note")),
    ]))
    rejected = set(row_keys(rejects, "document_type", "source_id"))
    live_keys = row_keys(live, "document_type", "source_id")
    going_ahead = live[~live_keys.isin(rejected)]
    waiting = readiness.concat_waiting(*(
        _ask_gate(readiness.needs(kind.name, going_ahead[going_ahead["document_type"] == kind.name]),
                  {}, customers.ready) for kind in SALES_KINDS))
    waits = set(row_keys(waiting, "document_type", "source_id"))
    accepted = set(live_keys[~live_keys.isin(rejected)]) - waits
    return _Sales(rejects=rejects, waiting=waiting, live=live, manual=docs[manual_mask], totals=totals,
                  rejected=rejected, accepted=accepted)


def _of(documents: pd.DataFrame, failures: pd.DataFrame | None) -> pd.DataFrame | None:
    """The failures of ``documents`` only (a void document already pushed is manual action, not a reject)."""
    if failures is None:
        return None
    mine = set(row_keys(documents, "document_type", "source_id"))
    return failures[row_keys(failures, "document_type", "source_id").isin(mine).astype(bool)]


def _sales_header_failures(live: pd.DataFrame, earlier: _Earlier, customers: _Customers) -> pd.DataFrame:
    return concat_failures([
        header.unknown_customer(live, customers.known),
        header.customer_rejected(live, customers.rejected),
        header.invalid_status(live),
        header.void_document(live, earlier.pushed),
        header.invalid_currency(live),
        header.missing_currency_rate(live, earlier.base),
        header.invalid_date(live[live["document_type"] == "invoice"], ["issue_date", "due_date"]),
        header.invalid_date(live[live["document_type"] == "credit_note"], ["issue_date"]),
        header.due_before_issue(live),
        # A rejected earlier document never reached the platform, so its number is free.
        header.duplicate_document_number(live, earlier.known[~earlier.known["rejected"].astype(bool)]),
    ])


def _sales_mapping_failures(lines: pd.DataFrame, live: pd.DataFrame, mappings: MappingLookup) -> pd.DataFrame:
    rev_un, rev_broken = codes.unmapped_revenue_code(lines, live, mappings)
    tax_un, tax_broken = codes.unmapped_tax_code(lines, live, mappings)
    trk_un, trk_broken = codes.unmapped_tracking_code(lines, live, mappings)
    return concat_failures([rev_un, tax_un, trk_un, codes.broken_mapping(rev_broken, tax_broken, trk_broken)])


def _payment_failures(rows: Normalised, allocs: pd.DataFrame, earlier: _Earlier, customers: _Customers,
                      mappings: MappingLookup) -> pd.DataFrame:
    payments = rows.payments
    method_un, method_broken = codes.unmapped_payment_method(payments, mappings)
    return concat_failures([
        header.unknown_customer(payments, customers.known),
        header.customer_rejected(payments, customers.rejected),
        header.invalid_currency(payments),
        header.missing_currency_rate(payments, earlier.base),
        header.invalid_date(payments, ["paid_on"]),
        amounts.payment_amount_problems(payments, allocs),
        method_un,
        codes.broken_mapping(method_broken),
        codes.missing_fee_account(payments, mappings),
        allocation.allocation_target_unknown(allocs),
        allocation.allocation_customer_mismatch(allocs),
        allocation.allocation_currency_mismatch(allocs),
        amounts.allocation_exceeds_payment(payments, amounts.sum_by(allocs, ["company_id", "source_id"])),
    ])


def _cn_allocation_failures(rows: Normalised, cn_targets: pd.DataFrame) -> pd.DataFrame:
    return concat_failures([
        header.invalid_date(rows.cn_allocations, ["allocated_on"]),
        amounts.cn_allocation_amount_problems(cn_targets),
        allocation.allocation_target_unknown(cn_targets),
        allocation.allocation_customer_mismatch(cn_targets),
        allocation.allocation_currency_mismatch(cn_targets),
    ])


def _allocations_waiting(rows: Normalised, targets: dict, ready_customers: set,
                         rejected: set) -> pd.DataFrame:
    """Payments and credit-note allocations not rejected whose customer or target is not ready."""
    def going_ahead(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~row_keys(frame, "document_type", "source_id").isin(rejected)]

    return readiness.concat_waiting(
        _ask_gate(readiness.needs("payment", going_ahead(rows.payments), rows.allocations), targets,
                  ready_customers),
        _ask_gate(readiness.needs("credit_note_allocation", going_ahead(rows.cn_allocations)), targets,
                  ready_customers))


def _ask_gate(needs: pd.DataFrame, targets: dict, ready_customers: set) -> pd.DataFrame:
    """:func:`receivables.readiness.waiting` with dependencies standing as the gate sees them."""
    def standing(company, on_type, on_id) -> Standing:
        if on_type == "customer":
            return Standing.READY if (company, on_id) in ready_customers else Standing.NOT_IN_PLATFORM
        facts = targets.get((company, on_type, on_id))
        if facts is None:
            return Standing.READY  # unknown: rejected (allocation_target_unknown), never waited for
        if facts["rejected"]:
            return Standing.REJECTED
        if not facts["pushed"]:
            return Standing.NOT_IN_PLATFORM
        return Standing.DRAFT if facts["draft"] else Standing.READY

    def on_label(company, on_type, on_id) -> str:
        if on_type == "customer":
            return readiness.default_label(on_type, on_id)
        facts = targets.get((company, on_type, on_id))
        return facts["label"] if facts else f"{LABEL.get(on_type, on_type)} (id {on_id})"

    return readiness.waiting(needs, standing, on_label)


# ---------------------------------------------------------------------------------------- results


def _first_rule(failures: pd.DataFrame) -> pd.DataFrame:
    """One row per document: its first failing rule by RULE_ORDER, listing the others in the message."""
    if failures.empty:
        return no_failures()
    f = failures.assign(_rank=failures["rule"].map(_RANK)).sort_values(["_rank"], kind="mergesort")
    others: dict = {}
    for c, d, s, rule in zip(f["company_id"], f["document_type"], f["source_id"], f["rule"], strict=True):
        others.setdefault((c, d, s), {})[rule] = None
    first = f.drop_duplicates(["company_id", "document_type", "source_id"]).copy()
    extra = [list(others[(c, d, s)])[1:] for c, d, s in zip(first["company_id"], first["document_type"],
                                                            first["source_id"], strict=True)]
    first["message"] = [m if not e else f"{m} (also failed: {', '.join(e)})"
                        for m, e in zip(first["message"], extra, strict=True)]
    return first[REJECT_COLUMNS].reset_index(drop=True)


def _needs_manual_action(manual: pd.DataFrame) -> pd.DataFrame:
    """A void document that was already pushed: only finance can void it in the platform."""
    return pd.DataFrame({
        "company_id": manual["company_id"].to_numpy(), "document_type": manual["document_type"].to_numpy(),
        "source_id": manual["source_id"].to_numpy(),
        "reason": [f"{lbl}: is void but was already pushed; void it in the accounting platform by hand"
                   for lbl in manual["label"]],
    }, columns=WAITING_COLUMNS)


def _table_kind(table: str):
    """The kind whose header or lines ``table`` holds (``ar_payments``: the payment, not its fee)."""
    return next(k for k in KINDS if table in (k.table, k.lines_table))


def _accepted(batch, rejects, waiting, manual) -> dict[str, pd.DataFrame]:
    """The batch tables minus rejected, waiting and manual documents (lines/allocations go with them)."""
    out_keys = set().union(*(row_keys(f, "document_type", "source_id") for f in (rejects, waiting, manual)))
    accepted: dict[str, pd.DataFrame] = {}
    for table in BATCH_TABLES:
        frame = batch.get(table)
        if frame is None:
            continue
        kind = _table_kind(table)
        ids = allocation_keys(*(objects(frame[c]) for c in kind.key_columns)) if kind.key_columns \
            else objects(frame[kind.id_column])
        keys = zip(objects(frame["company_id"]), ids, strict=True)
        keep = pd.Series([(c, kind.name, s) not in out_keys for c, s in keys], index=frame.index, dtype=bool)
        accepted[table] = frame[keep]  # a boolean Series: an empty list would select no *columns*
    return accepted
