"""Rules on mapping codes: every revenue, tax and tracking code, payment method and fee resolves.

A code resolves through the company's mappings (:class:`receivables.mappings.MappingLookup`): its own
mapping, else the ``'*'`` default. A mapping :func:`receivables.mappings.check_mappings` flagged is
``broken_mapping``, whichever code led to it.
"""

from __future__ import annotations

import pandas as pd

from receivables.mappings import MappingLookup
from receivables.money import as_decimal, is_finite_amount
from receivables.validate.frames import concat_failures, fail_rows, no_failures, row_keys


def _unmapped(rule: str, kind: str, code_col: str, lines: pd.DataFrame, docs: pd.DataFrame,
              mappings: MappingLookup, optional: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unmapped and broken lines for one mapping kind: (unmapped failures, broken failures)."""
    if lines.empty:
        return no_failures(), no_failures()
    res = mappings.resolve(lines["company_id"], kind, lines[code_col])
    asked = lines[code_col].notna() if optional else pd.Series(True, index=lines.index)
    labels = dict(zip(row_keys(docs, "document_type", "source_id"), docs["label"], strict=True))
    sub = lines.assign(_label=row_keys(lines, "document_type", "source_id").map(labels), _issue=res.issue)
    sub = sub[sub["_label"].notna()]
    unmapped = fail_rows(sub, (res.unmapped & asked)[sub.index], rule,
                         lambda r: f"{r._label}: line {r.line_no}: {code_col} "
                                   f"'{getattr(r, code_col)}' has no {kind} mapping and there is no '*' "
                                   "default; add one in the mapping screen")
    broken = fail_rows(sub, (res.broken & asked)[sub.index], "broken_mapping",
                       lambda r: f"{r._label}: line {r.line_no}: {code_col} '{getattr(r, code_col)}' uses a "
                                 f"broken mapping: {r._issue}")
    return unmapped.drop_duplicates(["company_id", "document_type", "source_id"]), \
        broken.drop_duplicates(["company_id", "document_type", "source_id"])


def unmapped_revenue_code(lines, docs, mappings):
    """A line's revenue_code (NULL means the '*' default) has no income_account mapping."""
    return _unmapped("unmapped_revenue_code", "income_account", "revenue_code", lines, docs, mappings, False)


def unmapped_tax_code(lines, docs, mappings):
    """A line's tax_code (when given) has no tax_rate mapping of its own nor a '*' default."""
    return _unmapped("unmapped_tax_code", "tax_rate", "tax_code", lines, docs, mappings, True)


def unmapped_tracking_code(lines, docs, mappings):
    """A line's tracking_code (when given) has no tracking_category mapping nor a '*' default."""
    return _unmapped("unmapped_tracking_code", "tracking_category", "tracking_code", lines, docs, mappings,
                     True)


def broken_mapping(*parts: pd.DataFrame) -> pd.DataFrame:
    """The mapping exists but :func:`receivables.mappings.check_mappings` flagged it (message cites it)."""
    return concat_failures(parts)


def unmapped_payment_method(payments: pd.DataFrame,
                            mappings: MappingLookup) -> tuple[pd.DataFrame, pd.DataFrame]:
    """No payment_account mapping for the payment's method (NULL means '*') and no default."""
    res = mappings.resolve(payments["company_id"], "payment_account", payments["method"])
    sub = payments.assign(_issue=res.issue)
    unmapped = fail_rows(sub, res.unmapped, "unmapped_payment_method",
                         lambda r: f"{r.label}: method '{r.method}' has no payment_account mapping and "
                                   "there is no '*' default; add one in the mapping screen")
    broken = fail_rows(sub, res.broken, "broken_mapping",
                       lambda r: f"{r.label}: method '{r.method}' uses a broken mapping: {r._issue}")
    return unmapped, broken


def missing_fee_account(payments: pd.DataFrame, mappings: MappingLookup) -> pd.DataFrame:
    """A fee is withheld (fee_amount > 0) but there is no usable fee_account mapping."""
    fee = payments["fee_amount"].map(lambda v: is_finite_amount(v) and as_decimal(v) > 0).astype(bool)
    no_code = pd.Series(None, index=payments.index, dtype=object)
    res = mappings.resolve(payments["company_id"], "fee_account", no_code)
    sub = payments.assign(_issue=res.issue)
    return fail_rows(sub, fee & res.platform_id.isna(), "missing_fee_account",
                     lambda r: f"{r.label}: fee_amount {r.fee_amount} needs a fee_account mapping ('*'), "
                               "but " + (f"it is broken: {r._issue}" if r._issue else "there is none; choose "
                                         "an active Expense account in the mapping screen"))
