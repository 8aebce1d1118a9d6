"""Accepted batch DataFrames -> Codat request bodies, column-wise (CONTRACT.md §2, §9, §11.3-4).

One payload function per document kind (the registry, :mod:`receivables.documents`, names each kind's
function here). Every function is pure and returns one row per document with the columns of
:data:`PAYLOAD_COLUMNS`: company_id, document_type, source_id, document_number, currency, total_amount
(rounded Decimal), payload (the request body's bytes, sent as they are) and content_hash (sha256 hex of
the payload). Rows come sorted by company_id, source_id, so the same input always gives the same bytes.

    >>> out = transform.invoices_to_payloads(invoices, lines, companies=companies, mappings=lookup,
    ...                                      tax_rates=ar_ref_tax_rates, platform_ids=ledger_ids)
    >>> orjson.loads(out.loc[0, "payload"])["totalAmount"]

These bytes are the one way a request body is built: the contract tests validate them against Codat's
request schemas for every kind.

How it is fast without changing a byte: the money is int64 minor units (:mod:`receivables.money`'s
column helpers: integer products and half-up rounding, Decimal only for the rare value that does not
fit), and the JSON text is assembled column by column with Arrow string kernels
(:mod:`.text`: ``binary_join_element_wise`` over formatted columns, ``binary_join`` of each document's
lines). Python runs per distinct mapping code, per document (bytes and hash), and per problem found,
never per line.

Numbers are written by us, never through a float: each amount is its Decimal's own text in plain notation
(``-0`` written as ``0``) or the rounded minor units with the currency's decimals, so the bytes are what
orjson would write for a dict with ``orjson.Fragment`` numbers (the tests compare with such a per-row
reference), the value is exact, and the currency's decimals survive (``12.50`` GBP, ``1500`` JPY,
``1.235`` BHD). Strings are escaped as orjson escapes them.

Inputs have passed :mod:`receivables.validate` and readiness: transform assumes every document it is
given can be pushed. Should one not (a customer or linked document without a platform id, an unmapped
account), it raises :class:`UnresolvedReferenceError` naming every affected document — an internal
invariant error, not a state — rather than sending a broken payload. Empty inputs of any kind give an
empty frame with the same columns.
"""

from receivables.transform.frame import PAYLOAD_COLUMNS, UnresolvedReferenceError, money_json
from receivables.transform.payments import (
    credit_note_allocations_to_payloads,
    fees_to_payloads,
    payments_to_payloads,
)
from receivables.transform.sales import credit_notes_to_payloads, customers_to_payloads, invoices_to_payloads

__all__ = [
    "PAYLOAD_COLUMNS",
    "UnresolvedReferenceError",
    "credit_note_allocations_to_payloads",
    "credit_notes_to_payloads",
    "customers_to_payloads",
    "fees_to_payloads",
    "invoices_to_payloads",
    "money_json",
    "payments_to_payloads",
]
