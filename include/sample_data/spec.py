"""What to generate (:class:`SampleSpec`) and what was generated (:class:`SampleManifest`,
:class:`BadRow`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Every rule a bad row may break; the validator rejects the document under this name.
BAD_ROW_RULES: tuple[str, ...] = (
    "unknown_customer",
    "duplicate_document_number",
    "due_before_issue",
    "invalid_currency",
    "missing_currency_rate",
    "no_lines",
    "invalid_amount",
    "unmapped_tax_code",
    "unmapped_revenue_code",
    "allocation_exceeds_payment",
    "allocation_target_unknown",
)

# ISO 4217 minor units of the currencies the generator uses.
MINOR_UNITS: dict[str, int] = {"GBP": 2, "USD": 2, "EUR": 2, "JPY": 0, "BHD": 3}

# Rough value of one unit in GBP: gives plausible currency_rate values (base = foreign × rate).
GBP_VALUE: dict[str, Decimal] = {
    "GBP": Decimal("1"), "USD": Decimal("0.79"), "EUR": Decimal("0.86"), "JPY": Decimal("0.0052"),
    "BHD": Decimal("2.10"),
}

# Base currencies of the companies, in order; JPY and BHD once there are at least five companies.
DEFAULT_CURRENCIES: tuple[str, ...] = ("GBP", "USD", "EUR", "JPY", "BHD")


def company_currencies(count: int, currencies: tuple[str, ...] = DEFAULT_CURRENCIES) -> list[str]:
    """Base currency of each of ``count`` companies: the list repeated (GBP, USD, EUR, JPY, BHD, GBP, …)."""
    return [currencies[i % len(currencies)] for i in range(count)]


class SampleSpec(BaseModel):
    """How much sample data to generate, and how dirty.

    Counts are per company per business day. ``bad_row_fraction`` adds that fraction of
    ``invoices_per_day`` as extra invalid documents, each breaking exactly one rule of
    :data:`BAD_ROW_RULES`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    companies: int = Field(3, ge=1)
    business_days: tuple[date, ...] = (date(2026, 11, 20),)
    invoices_per_day: int = Field(20, ge=0)
    # Probability of 1..5 lines per invoice (mean 3).
    line_count_weights: tuple[float, float, float, float, float] = (0.15, 0.2, 0.3, 0.2, 0.15)
    credit_note_ratio: float = Field(0.1, ge=0, le=1)
    payment_ratio: float = Field(0.6, ge=0, le=2)
    foreign_currency_fraction: float = Field(0.1, ge=0, le=1)
    bad_row_fraction: float = Field(0.0, ge=0, le=1)
    # Share of existing customers whose name/email changes on a later day (an update of the customer).
    customer_update_fraction: float = Field(0.02, ge=0, le=1)
    seed: int = 7
    timezone: str = "UTC"
    currencies: tuple[str, ...] = DEFAULT_CURRENCIES

    @field_validator("business_days")
    @classmethod
    def _sorted_unique(cls, value: tuple[date, ...]) -> tuple[date, ...]:
        if not value:
            raise ValueError("at least one business day is needed")
        return tuple(sorted(set(value)))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("currencies")
    @classmethod
    def _known_currencies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in MINOR_UNITS]
        if unknown or not value:
            raise ValueError(f"currencies must be among {sorted(MINOR_UNITS)}, got {list(value)}")
        return value


@dataclass(frozen=True)
class BadRow:
    """One invalid document planted on purpose, and the rule it breaks."""

    document_type: str
    company_id: str
    source_id: str
    rule: str


@dataclass
class SampleManifest:
    """What :func:`sample_data.write_sample` wrote: row counts per table and the planted bad rows."""

    row_counts: dict[str, int] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{table}: {count} rows" for table, count in self.row_counts.items()]
        by_rule: dict[str, int] = {}
        for bad in self.bad_rows:
            by_rule[bad.rule] = by_rule.get(bad.rule, 0) + 1
        lines.append(f"bad rows: {len(self.bad_rows)}" + (f" ({by_rule})" if by_rule else ""))
        return "\n".join(lines)
