"""The gate before any push: each document of a day's batch ends accepted, rejected, waiting or flagged.

One function per rule, named like the rule (the names are a contract with the push, reconcile and report
code), in a module per subject: :mod:`.header_rules` (customer, status, currency, dates, number),
:mod:`.amount_rules`, :mod:`.mapping_rules` and :mod:`.allocation_rules` (targets and the open-amount
simulation). Each takes normalised frames (:mod:`.normalise`) and returns the failing documents as rows
of company_id, document_type, source_id, rule, message. :func:`validate_batch` (:mod:`.gate`) runs them
phase by phase and keeps, per document, the first failing rule of :data:`RULE_ORDER` (its message lists
the other failed rules).

    >>> result = validate_batch(batch, companies=ar_companies, mappings=lookup, tax_rates=ar_ref_tax_rates,
    ...                         known_documents=known, open_amounts=open_now, platform_ids=pushed)
    >>> result.accepted["ar_invoices"], result.rejects, result.waiting, result.needs_manual_action

Decisions:
- Negative quantities are rejected (``invalid_amount``) on invoices and credit notes alike: a credit is
  a credit note, not a negative line. A negative *unit amount* (a discount line) is fine as long as the
  document total stays above zero.
- Line inputs (quantity, unit amount, discount) may carry up to 6 decimals; amounts actually paid
  (payment amount, fee, allocations) at most the currency's minor units.
- A receipt (amount > 0) may settle invoices only and a refund (amount < 0) credit notes only; otherwise
  ``invalid_amount``. An allocation to another customer's document is ``allocation_customer_mismatch``
  (an extra rule: CONTRACT §11.10 forbids it, and the platform would refuse the whole payment).
- A void document that was already pushed is not rejected: it is returned in ``needs_manual_action``
  (a pushed invoice cannot be voided through this connection). A void document never pushed is rejected
  with ``void_document``.
- The gate only rejects. Whether an accepted document can be pushed yet is :mod:`receivables.readiness`:
  a payment or credit-note allocation whose customer or target is rejected, not yet in the platform (and
  not accepted today) or still a draft waits (``result.waiting``, recorded pending), and so does an
  invoice or credit note whose customer is known from earlier days but not in the platform. A waiting
  document draws on no open amount.
- A customer reuses ``duplicate_document_number`` when another customer of the company has the same name,
  because the name is the customer's identity in the platform (WAREHOUSE.md "Identity").
- Allocations draw on a target's open amount in date order (then payment before credit-note allocation,
  then id); every document whose allocation overdraws is rejected.
"""
from receivables.readiness import WAITING_COLUMNS
from receivables.validate.allocation_rules import (
    allocation_currency_mismatch,
    allocation_customer_mismatch,
    allocation_exceeds_open_amount,
    allocation_target_unknown,
)
from receivables.validate.amount_rules import LINE_INPUT_PLACES, allocation_exceeds_payment, invalid_amount
from receivables.validate.frames import REJECT_COLUMNS
from receivables.validate.gate import RULE_ORDER, ValidationResult, validate_batch
from receivables.validate.header_rules import (
    STATUSES,
    customer_rejected,
    due_before_issue,
    duplicate_document_number,
    invalid_currency,
    invalid_date,
    invalid_status,
    missing_currency_rate,
    no_lines,
    unknown_customer,
    void_document,
)
from receivables.validate.mapping_rules import (
    broken_mapping,
    missing_fee_account,
    unmapped_payment_method,
    unmapped_revenue_code,
    unmapped_tax_code,
    unmapped_tracking_code,
)

__all__ = [
    "LINE_INPUT_PLACES", "REJECT_COLUMNS", "RULE_ORDER", "STATUSES", "WAITING_COLUMNS", "ValidationResult",
    "allocation_currency_mismatch", "allocation_customer_mismatch", "allocation_exceeds_open_amount",
    "allocation_exceeds_payment", "allocation_target_unknown", "broken_mapping", "customer_rejected",
    "due_before_issue", "duplicate_document_number", "invalid_amount", "invalid_currency", "invalid_date",
    "invalid_status", "missing_currency_rate", "missing_fee_account", "no_lines", "unknown_customer",
    "unmapped_payment_method", "unmapped_revenue_code", "unmapped_tax_code", "unmapped_tracking_code",
    "validate_batch", "void_document",
]
