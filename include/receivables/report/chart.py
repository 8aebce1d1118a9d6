"""The aging chart of the finance report: open invoice amounts per aging bucket, one panel per currency.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), and
returned as PNG bytes for embedding in the HTML as a ``data:`` URL.
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure

from receivables.money import sum_amounts
from receivables.reconcile import AGING_BUCKETS

_MAX_PANELS = 6


def aging_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Open amount per currency and aging bucket (Decimal), from reconciliation rows.

    The open amount is the source's amount due, or the platform's when the source has none; only rows
    with an aging bucket (open invoices) count. Columns: currency, then one per bucket; sorted by currency.
    """
    aged = rows[rows["aging_bucket"].notna()]
    if aged.empty:
        return pd.DataFrame(columns=["currency", *AGING_BUCKETS])
    open_amount = aged["source_amount_due"].where(aged["source_amount_due"].notna(), aged["platform_amount_due"])
    frame = pd.DataFrame({"currency": aged["currency"].fillna("").astype(str),
                          "bucket": aged["aging_bucket"].astype(str), "amount": open_amount.astype(object)})
    sums = frame.groupby(["currency", "bucket"])["amount"].agg(lambda s: sum_amounts(s.dropna()))
    table = sums.unstack("bucket").reindex(columns=list(AGING_BUCKETS))
    table = table.astype(object).where(table.notna(), None).reset_index()
    table.columns.name = None
    return table


def aging_chart_png(table: pd.DataFrame) -> bytes | None:
    """A PNG bar chart of :func:`aging_table`'s amounts; None when there is nothing open."""
    if table.empty:
        return None
    # The largest exposures first when there are more currencies than panels.
    totals = table[list(AGING_BUCKETS)].apply(lambda r: sum(float(v) for v in r if v is not None), axis=1)
    shown = table.assign(_total=totals).sort_values(["_total", "currency"], ascending=[False, True])
    shown = shown.head(_MAX_PANELS)
    panels = len(shown)
    columns = min(panels, 3)
    lines = -(-panels // columns)
    fig = Figure(figsize=(4.2 * columns, 3.0 * lines), dpi=96)
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax, (_, row) in zip(axes.flat, shown.iterrows(), strict=False):
        # Floats only for drawing bars; every figure printed in the report stays a Decimal.
        values = [float(row[b]) if row[b] is not None else 0.0 for b in AGING_BUCKETS]
        ax.bar(list(AGING_BUCKETS), values, color=["#4c956c", "#f2c14e", "#f78154", "#d1495b", "#7a1e48"])
        ax.set_title(f"Open invoices ({row['currency'] or 'no currency'})", fontsize=10)
        ax.set_xlabel("days overdue", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    for ax in list(axes.flat)[panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
