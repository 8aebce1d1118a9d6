"""The aging chart of the finance report: open invoice amounts per aging bucket, one panel per currency.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), and
returned as PNG bytes for embedding in the HTML as a ``data:`` URL. Panels follow the currency order of
the report's tables (alphabetical), each bar labelled with its count and amount, the axis with the currency.
"""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from receivables.money import sum_amounts
from receivables.reconcile import AGING_BUCKETS

MAX_PANELS = 6
_COLOURS = ["#4c956c", "#f2c14e", "#f78154", "#d1495b", "#7a1e48"]


def aging_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Open amount (Decimal) and count per currency and aging bucket, from reconciliation rows.

    The open amount is the source's amount due, or the platform's when the source has none; only rows
    with an aging bucket (open invoices) count. Columns: currency, one amount column per bucket and one
    ``<bucket> count`` column per bucket; one row per currency, alphabetical.
    """
    counts = [f"{b} count" for b in AGING_BUCKETS]
    aged = rows[rows["aging_bucket"].notna() & rows["currency"].notna()]
    if aged.empty:
        return pd.DataFrame(columns=["currency", *AGING_BUCKETS, *counts])
    open_amount = aged["source_amount_due"].where(aged["source_amount_due"].notna(),
                                                  aged["platform_amount_due"])
    frame = pd.DataFrame({"currency": aged["currency"].astype(str),
                          "bucket": aged["aging_bucket"].astype(str), "amount": open_amount.astype(object)})
    grouped = frame.groupby(["currency", "bucket"])["amount"]
    sums = grouped.agg(lambda s: sum_amounts(s.dropna())).unstack("bucket") \
        .reindex(columns=list(AGING_BUCKETS))
    sizes = grouped.size().unstack("bucket").reindex(columns=list(AGING_BUCKETS)).fillna(0).astype(int)
    sizes.columns = counts
    table = sums.astype(object).where(sums.notna(), None).join(sizes).sort_index().reset_index()
    table.columns.name = None
    return table


# Axis ticks with thousands separators (1,250,000), never matplotlib's 1e6 offset notation.
_THOUSANDS = FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def _compact(amount) -> str:
    """``1,870,907.59`` -> ``1.87m`` for a tick label (the table beside the chart has the exact figure)."""
    value = float(amount or 0)
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.0f}"


def aging_chart_png(table: pd.DataFrame) -> bytes | None:
    """A PNG bar chart of :func:`aging_table` (the first :data:`MAX_PANELS` currencies); None when empty."""
    if table.empty:
        return None
    shown = table.head(MAX_PANELS)
    panels = len(shown)
    columns = min(panels, 3)
    lines = -(-panels // columns)
    fig = Figure(figsize=(4.6 * columns, 3.4 * lines), dpi=96)
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax, (_, row) in zip(axes.flat, shown.iterrows(), strict=False):
        currency = row["currency"]
        # Floats only for drawing bars; every figure printed in the report stays a Decimal.
        values = [float(row[b]) if row[b] is not None else 0.0 for b in AGING_BUCKETS]
        # Count and amount under each bar (tick labels never overlap, bar labels would).
        ticks = [f"{b}\n{int(row[f'{b} count'])} inv.\n{_compact(row[b])}" for b in AGING_BUCKETS]
        ax.bar(ticks, values, color=_COLOURS)
        ax.set_title(f"Open invoices in {currency}", fontsize=10)
        ax.set_xlabel("days overdue: invoices and amount open", fontsize=8)
        ax.set_ylabel(f"amount open ({currency})", fontsize=8)
        ax.yaxis.set_major_formatter(_THOUSANDS)
        ax.tick_params(axis="x", labelsize=7)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
