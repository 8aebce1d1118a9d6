"""Deterministic, realistic receivables for sample companies, one business day at a time.

    >>> for day, tables, bad_rows in generate_days(spec, companies):
    ...     tables["ar_invoices"]  # DataFrame with the columns of the warehouse table

Per company and day: new customers (and a few changed ones), invoices of 1–5 lines (quantities, unit
amounts with up to 4 decimals, discounts, tax/revenue/tracking codes, some lines untaxed), credit notes
with their allocations to open invoices, and payments: exact, partial, over-payments (the excess stays
on account), payments on account, payments covering two invoices, card payments with a fee withheld,
and refunds paid out against a credit note (negative amount). Payments settle invoices of earlier days
too. Customers in another currency than the company's get documents in that currency with a rate.

Good documents obey WAREHOUSE.md: money at the currency's minor units, totals computed with half-up
rounding per line, and no allocation above what is open on its target or above its payment. Bad
documents (``bad_row_fraction``) are extra documents that each break exactly one rule and are listed in
the manifest; nothing good ever points at them.

Bulk columns (lines, invoice headers) are generated with numpy; amounts are integers in minor units (or
1e-4 for unit amounts) until the final conversion to ``Decimal``. The generator for a company depends
only on the seed and the company's position, so the same spec gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from sample_data.platform_fit import PLATFORM_RULE, PlatformFit, credit_note_id, too_long_number
from sample_data.provision import PAYMENT_ACCOUNTS, TAX_RATES, TRACKING, ProvisionedCompany
from sample_data.spec import BAD_ROW_RULES, GBP_VALUE, MINOR_UNITS, BadRow, SampleSpec

TAX_CODES: tuple[str | None, ...] = ("STD", "RED", "ZERO", "CMP", None)
TAX_CODE_WEIGHTS = (0.6, 0.12, 0.1, 0.05, 0.13)
REVENUE_CODES = ("SALES", "SERVICES", "SUBS")
REVENUE_WEIGHTS = (0.5, 0.3, 0.2)
TRACKING_CODES: tuple[str | None, ...] = (*TRACKING, None)
PAYMENT_METHODS: tuple[str | None, ...] = (*PAYMENT_ACCOUNTS, None)  # None → the "*" payment account
PAYMENT_METHOD_WEIGHTS = (0.4, 0.5, 0.1)
PAYMENT_TERMS_DAYS = (14, 30, 30, 45, 60)
CARD_FEE_PER_MILLE = 29  # 2.9 % withheld by the card processor

_DESCRIPTIONS = {
    "SALES": ("Widget A", "Widget B", "Gadget Pro", "Spare parts kit"),
    "SERVICES": ("Consulting hours", "Installation", "Training day", "Support call-out"),
    "SUBS": ("Monthly subscription", "Annual licence", "Seat add-on"),
}
_NAME_WORDS = ("Apex", "Blue", "Cedar", "Delta", "Eagle", "Falcon", "Granite", "Harbor", "Iris", "Juniper",
               "Kestrel", "Lumen", "Maple", "Nova", "Orion", "Pine", "Quartz", "River", "Summit", "Titan")
_NAME_KINDS = ("Traders", "Foods", "Logistics", "Studio", "Holdings", "Supplies", "Labs", "Retail")

INVOICE_COLUMNS = ("company_id", "invoice_id", "invoice_number", "customer_id", "issue_date", "due_date",
                   "currency", "currency_rate", "status", "note", "updated_at")
LINE_COLUMNS = ("company_id", "line_no", "description", "quantity", "unit_amount", "discount_amount",
                "tax_code", "revenue_code", "tracking_code")
CREDIT_NOTE_COLUMNS = ("company_id", "credit_note_id", "credit_note_number", "customer_id", "issue_date",
                       "currency", "currency_rate", "status", "note", "updated_at")
PAYMENT_COLUMNS = ("company_id", "payment_id", "customer_id", "paid_on", "currency", "currency_rate",
                   "amount", "fee_amount", "method", "reference", "updated_at")


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def to_money(minor: int, currency: str) -> Decimal:
    """Integer minor units as a ``Decimal`` with the currency's decimals (1250 GBP → 12.50)."""
    return Decimal(int(minor)).scaleb(-minor_units(currency))


@dataclass
class _Lines:
    """Invoice or credit-note lines as numpy columns, with each line's total in minor units."""

    document_index: np.ndarray  # which document of the batch the line belongs to
    line_no: np.ndarray
    quantity_e2: np.ndarray  # quantity × 100
    unit_e4: np.ndarray  # unit amount × 10 000
    discount_minor: np.ndarray
    tax_code: list[str | None]
    revenue_code: list[str]
    tracking_code: list[str | None]
    description: list[str]
    total_minor: np.ndarray  # subtotal + tax, each rounded half-up to minor units


@dataclass
class _Open:
    """A document with something still open: an invoice's amount due or a credit note's remaining credit."""

    document_id: str
    customer: int
    currency: str
    rate: Decimal | None
    open_minor: int


class _OpenBook:
    """Open invoices or credit notes of one company: random pick, per-customer lookup, O(1) removal."""

    def __init__(self) -> None:
        self.items: list[_Open] = []
        self.position: dict[str, int] = {}
        self.by_customer: dict[int, set[str]] = {}

    def add(self, item: _Open) -> None:
        if item.open_minor <= 0:
            return
        self.position[item.document_id] = len(self.items)
        self.items.append(item)
        self.by_customer.setdefault(item.customer, set()).add(item.document_id)

    def get(self, document_id: str) -> _Open | None:
        index = self.position.get(document_id)
        return None if index is None else self.items[index]

    def pick(self, rng: np.random.Generator) -> _Open | None:
        return self.items[int(rng.integers(len(self.items)))] if self.items else None

    def reduce(self, item: _Open, amount_minor: int) -> None:
        item.open_minor -= amount_minor
        if item.open_minor < 0:
            raise AssertionError(f"over-allocated {item.document_id}")  # a generator bug, never data
        if item.open_minor == 0:
            index = self.position.pop(item.document_id)
            last = self.items.pop()
            if index < len(self.items):
                self.items[index] = last
                self.position[last.document_id] = index
            self.by_customer[item.customer].discard(item.document_id)


@dataclass
class CompanyDay:
    """Rows of one company for one business day (DataFrames per input table) and its planted bad rows."""

    tables: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)

    def add(self, table: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            self.tables.setdefault(table, []).append(frame)


class CompanyGenerator:
    """Generates one company's documents day after day, remembering what is still open."""

    def __init__(self, spec: SampleSpec, company: ProvisionedCompany, position: int) -> None:
        self.spec = spec
        self.company = company
        self.position = position
        self.rng = np.random.default_rng([spec.seed, position])
        self.zone = ZoneInfo(spec.timezone)
        base = company.base_currency
        self.base = base
        self.foreign = [c for c in ("GBP", "USD", "EUR") if c != base]
        self.customer_ids: list[str] = []
        self.customer_currency: list[str] = []
        self.customer_names: list[str] = []
        self.invoices = _OpenBook()
        self.credits = _OpenBook()
        self.invoice_numbers: list[str] = []  # numbers of earlier days' good invoices
        self.todays_numbers: list[str] = []
        self.sequence = {"customer": 0, "invoice": 0, "credit_note": 0, "payment": 0, "bad": 0}
        # What the company's platform accepts: the happy path fits it (sample_data.platform_fit).
        self.fit = PlatformFit.of(company.platform)
        self.planted_platform_reject = False
        untaxed = 1.0 if self.fit.untaxed_lines else 0.0
        weights = [w * (untaxed if code is None else 1.0) for code, w in zip(TAX_CODES, TAX_CODE_WEIGHTS,
                                                                              strict=True)]
        self.tax_weights = [w / sum(weights) for w in weights]
        self.tax_rate_e4 = {code: int(rate * 10_000) for code, rate in company.tax_rates.items()}
        missing = [c for c in TAX_RATES if c not in self.tax_rate_e4]
        if missing:
            raise ValueError(f"company {company.company_id} has no effective rate for tax codes {missing}")

    # ---------------------------------------------------------------- helpers

    def _next(self, kind: str, count: int = 1) -> list[int]:
        start = self.sequence[kind] + 1
        self.sequence[kind] += count
        return list(range(start, start + count))

    def _times(self, day: date, count: int) -> np.ndarray:
        """``count`` instants inside business day ``day`` (spec timezone), as naive UTC datetime64[us]."""
        start = datetime.combine(day, time(), self.zone)
        end = datetime.combine(day + timedelta(days=1), time(), self.zone)
        start_utc = np.datetime64(start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None), "us")
        span_us = int((end - start).total_seconds() * 1_000_000)
        offsets = np.sort(self.rng.integers(0, span_us, size=count))
        return start_utc + offsets.astype("timedelta64[us]")

    def _rate(self, currency: str) -> Decimal | None:
        """``currency_rate`` (base = foreign × rate) for a document in ``currency``; None in base currency."""
        if currency == self.base:
            return None
        raw = GBP_VALUE[currency] / GBP_VALUE[self.base]
        wobble = Decimal(int(self.rng.integers(-200, 201))) / Decimal(10_000)
        return (raw * (1 + wobble)).quantize(Decimal("0.00000001"))

    def _frame(self, columns: Sequence[str], data: dict[str, object]) -> pd.DataFrame:
        return pd.DataFrame({c: data[c] for c in columns})

    # ---------------------------------------------------------------- customers

    def _customers(self, day: date, first_day: bool, out: CompanyDay) -> None:
        base_count = max(3, self.spec.invoices_per_day // 3)
        count = base_count if first_day else max(1, round(base_count * 0.05))
        numbers = self._next("customer", count)
        foreign = self.rng.random(count) < self.spec.foreign_currency_fraction
        pick = self.rng.integers(0, len(self.foreign), size=count)
        words = self.rng.integers(0, len(_NAME_WORDS), size=count)
        kinds = self.rng.integers(0, len(_NAME_KINDS), size=count)
        rows_id, rows_name, rows_email, rows_currency = [], [], [], []
        for i, n in enumerate(numbers):
            currency = self.foreign[pick[i]] if foreign[i] and self.fit.foreign_currency else self.base
            name = f"{_NAME_WORDS[words[i]]} {_NAME_KINDS[kinds[i]]} {self.position + 1:03d}-{n:06d}"
            customer_id = f"CUST-{n:06d}"
            self.customer_ids.append(customer_id)
            self.customer_currency.append(currency)
            self.customer_names.append(name)
            rows_id.append(customer_id)
            rows_name.append(name)
            rows_email.append(f"accounts+{n}@{_NAME_WORDS[words[i]].lower()}{n}.example")
            rows_currency.append(currency)
        # A few earlier customers change their billing e-mail today (an update of the same customer).
        if not first_day and self.spec.customer_update_fraction > 0:
            earlier = len(self.customer_ids) - count
            changed = self.rng.choice(earlier,
                                      size=min(earlier, round(earlier * self.spec.customer_update_fraction)),
                                      replace=False)
            for index in sorted(int(i) for i in changed):
                rows_id.append(self.customer_ids[index])
                rows_name.append(self.customer_names[index])
                rows_email.append(f"billing+{day:%Y%m%d}.{index}@changed.example")
                rows_currency.append(self.customer_currency[index])
        out.add("ar_customers", pd.DataFrame({
            "company_id": self.company.company_id, "customer_id": rows_id, "name": rows_name,
            "email": rows_email,
            "default_currency": rows_currency, "updated_at": self._times(day, len(rows_id)),
        }))

    # ---------------------------------------------------------------- lines

    def _lines(self, currencies: list[str], counts: np.ndarray, small: bool = False) -> _Lines:
        """Lines for documents in ``currencies`` with ``counts`` lines each; ``small`` for credit notes."""
        rng = self.rng
        total = int(counts.sum())
        document_index = np.repeat(np.arange(len(counts)), counts)
        starts = np.cumsum(counts) - counts
        line_no = np.arange(total) - np.repeat(starts, counts) + 1
        minor = np.array([minor_units(c) for c in currencies], dtype=np.int64)[document_index]
        value = np.array([float(GBP_VALUE[c]) for c in currencies])[document_index]

        whole = rng.random(total) < 0.7
        quantity_e2 = np.where(whole, rng.integers(1, 11, size=total) * 100,
                               rng.integers(25, 2000, size=total))
        if small:
            quantity_e2 = np.where(whole, 100, quantity_e2 % 300 + 25)
        price_gbp = rng.lognormal(mean=3.6, sigma=0.9, size=total).clip(0.5, 5_000)
        unit_e4 = np.round(price_gbp / value * 10_000).astype(np.int64)
        # Most prices sit on the currency's minor unit; some carry 4 decimals (per-unit prices).
        step = 10 ** (4 - np.minimum(minor, 4))
        at_minor = rng.random(total) < 0.85
        unit_e4 = np.where(at_minor, np.maximum(unit_e4 // step, 1) * step, np.maximum(unit_e4, 1))

        scale_e6 = 10 ** (6 - minor)  # 1e-6 units per minor unit
        gross_e6 = quantity_e2 * unit_e4
        gross_minor = gross_e6 // scale_e6
        discounted = rng.random(total) < 0.2
        discount_minor = np.where(discounted,
                                  (gross_minor * rng.uniform(0, 0.15, size=total)).astype(np.int64), 0)
        subtotal_minor = (gross_e6 - discount_minor * scale_e6 + scale_e6 // 2) // scale_e6  # half-up, ≥ 0

        tax_pick = rng.choice(len(TAX_CODES), size=total, p=self.tax_weights)
        rate_e4 = np.array([self.tax_rate_e4[c] if c else 0 for c in TAX_CODES], dtype=np.int64)[tax_pick]
        tax_minor = (subtotal_minor * rate_e4 + 500_000) // 1_000_000  # rate in %, ×1e4 → ÷1e6, half-up
        revenue_pick = rng.choice(len(REVENUE_CODES), size=total, p=REVENUE_WEIGHTS)
        tracking_pick = rng.integers(0, len(TRACKING_CODES), size=total)
        revenue = [REVENUE_CODES[i] for i in revenue_pick.tolist()]
        description_pick = rng.integers(0, 4, size=total).tolist()
        descriptions = [
            _DESCRIPTIONS[r][d % len(_DESCRIPTIONS[r])]
            for r, d in zip(revenue, description_pick, strict=True)
        ]
        return _Lines(
            document_index=document_index, line_no=line_no, quantity_e2=quantity_e2, unit_e4=unit_e4,
            discount_minor=discount_minor, tax_code=[TAX_CODES[i] for i in tax_pick.tolist()],
            revenue_code=revenue,
            tracking_code=[TRACKING_CODES[i] for i in tracking_pick.tolist()], description=descriptions,
            total_minor=subtotal_minor + tax_minor,
        )

    def _line_frame(self, lines: _Lines, id_column: str, ids: list[str],
                    currencies: list[str]) -> pd.DataFrame:
        doc = lines.document_index.tolist()
        return pd.DataFrame({
            "company_id": self.company.company_id,
            id_column: [ids[d] for d in doc],
            "line_no": lines.line_no,
            "description": lines.description,
            "quantity": [_scaled(q, 2) for q in lines.quantity_e2.tolist()],
            "unit_amount": [_scaled(u, 4) for u in lines.unit_e4.tolist()],
            "discount_amount": [to_money(m, currencies[d]) for m, d in zip(lines.discount_minor.tolist(), doc,
                                                                           strict=True)],
            "tax_code": lines.tax_code,
            "revenue_code": lines.revenue_code,
            "tracking_code": lines.tracking_code,
        })

    # ---------------------------------------------------------------- invoices

    def _invoice_batch(self, day: date, count: int) -> tuple[dict[str, list], _Lines]:
        rng = self.rng
        numbers = self._next("invoice", count)
        customers = rng.integers(0, len(self.customer_ids), size=count).tolist()
        currencies = [self.customer_currency[c] for c in customers]
        terms = rng.choice(PAYMENT_TERMS_DAYS, size=count).tolist()
        counts = rng.choice(np.arange(1, 6), size=count, p=self.spec.line_count_weights)
        status = np.where((rng.random(count) < 0.03) & self.fit.drafts, "draft", "submitted").tolist()
        with_note = (rng.random(count) < 0.2).tolist()
        header = {
            "company_id": [self.company.company_id] * count,
            "invoice_id": [f"INV-{n:07d}" for n in numbers],
            "invoice_number": [f"{self.position + 1:03d}-{n:07d}" for n in numbers],
            "customer_id": [self.customer_ids[c] for c in customers],
            "customer": customers,
            "issue_date": [day] * count,
            "due_date": [day + timedelta(days=t) for t in terms],
            "currency": currencies,
            "currency_rate": [self._rate(c) for c in currencies],
            "status": status,
            "note": [f"PO {n * 7 % 100_000:05d}" if w else None
                     for n, w in zip(numbers, with_note, strict=True)],
            "updated_at": list(self._times(day, count)),
        }
        return header, self._lines(currencies, counts)

    def _invoices(self, day: date, out: CompanyDay) -> None:
        count = self.spec.invoices_per_day
        if count == 0:
            return
        header, lines = self._invoice_batch(day, count)
        totals = _sum_by(lines.document_index, lines.total_minor, count)
        for i in range(count):
            if header["status"][i] == "submitted":
                self.invoices.add(_Open(header["invoice_id"][i], header["customer"][i], header["currency"][i],
                                        header["currency_rate"][i], int(totals[i])))
        self.todays_numbers = list(header["invoice_number"])
        out.add("ar_invoices", self._frame(INVOICE_COLUMNS, _dates(header, "issue_date", "due_date")))
        out.add("ar_invoice_lines",
                self._line_frame(lines, "invoice_id", header["invoice_id"], header["currency"]))

    # ---------------------------------------------------------------- credit notes

    def _credit_notes(self, day: date, out: CompanyDay) -> None:
        count = round(self.spec.invoices_per_day * self.spec.credit_note_ratio)
        if count == 0:
            return
        rng = self.rng
        numbers = self._next("credit_note", count)
        targets = [self.invoices.pick(rng) for _ in range(count)]
        customers = [t.customer if t else int(rng.integers(len(self.customer_ids))) for t in targets]
        currencies = [self.customer_currency[c] for c in customers]
        counts = rng.choice(np.array([1, 2]), size=count, p=(0.7, 0.3))
        lines = self._lines(currencies, counts, small=True)
        totals = _sum_by(lines.document_index, lines.total_minor, count)
        ids = [credit_note_id(n, self.fit) for n in numbers]
        header = {
            "company_id": [self.company.company_id] * count,
            "credit_note_id": ids,
            "credit_note_number": [f"CN{self.position + 1:03d}-{n:07d}" for n in numbers],
            "customer_id": [self.customer_ids[c] for c in customers],
            "issue_date": [day] * count,
            "currency": currencies,
            "currency_rate": [self._rate(c) for c in currencies],
            "status": ["submitted"] * count,
            "note": ["Returned goods" if rng.random() < 0.5 else None for _ in range(count)],
            "updated_at": list(self._times(day, count)),
        }
        allocations: dict[str, list] = {k: [] for k in ("credit_note_id", "invoice_id", "amount")}
        for i in range(count):
            credit = _Open(ids[i], customers[i], currencies[i], header["currency_rate"][i], int(totals[i]))
            target = targets[i]
            # Most credit notes are applied to the invoice they correct, as far as it is still open.
            if (self.fit.credit_note_links and target is not None and rng.random() < 0.6
                    and credit.open_minor > 0 and target.open_minor > 0):
                amount = min(credit.open_minor, target.open_minor)
                allocations["credit_note_id"].append(credit.document_id)
                allocations["invoice_id"].append(target.document_id)
                allocations["amount"].append(to_money(amount, credit.currency))
                self.invoices.reduce(target, amount)
                credit.open_minor -= amount
            self.credits.add(credit)
        out.add("ar_credit_notes", self._frame(CREDIT_NOTE_COLUMNS, _dates(header, "issue_date")))
        out.add("ar_credit_note_lines", self._line_frame(lines, "credit_note_id", ids, currencies))
        n = len(allocations["amount"])
        out.add("ar_credit_note_allocations", pd.DataFrame({
            "company_id": self.company.company_id, **allocations,
            "allocated_on": pd.Series([pd.Timestamp(day)] * n, dtype="datetime64[us]"),
            "updated_at": self._times(day, n),
        }))

    # ---------------------------------------------------------------- payments

    def _payments(self, day: date, out: CompanyDay) -> None:
        count = round(self.spec.invoices_per_day * self.spec.payment_ratio)
        if count == 0:
            return
        rng = self.rng
        kinds = rng.choice(
            np.array(["exact", "partial", "over", "two_invoices", "on_account", "refund"]), size=count,
            p=(0.45, 0.25, 0.1, 0.1, 0.05, 0.05),
        ).tolist()
        methods = rng.choice(len(PAYMENT_METHODS), size=count, p=PAYMENT_METHOD_WEIGHTS).tolist()
        payments: dict[str, list] = {k: [] for k in PAYMENT_COLUMNS if k not in ("company_id", "updated_at")}
        allocations: dict[str, list] = {k: [] for k in ("payment_id", "target_type", "target_id", "amount")}
        for number, kind, method_index in zip(self._next("payment", count), kinds, methods, strict=True):
            payment_id = f"PAY-{number:07d}"
            method = PAYMENT_METHODS[method_index]
            settled: list[tuple[str, _Open, int]] = []  # (target type, document, minor units)
            target = self.invoices.pick(rng) if kind not in ("on_account", "refund") else None
            # no refund through a payment where credit notes cannot be linked: it is paid on account
            credit = self.credits.pick(rng) if kind == "refund" and self.fit.credit_note_links else None
            if target is not None:
                customer, currency = target.customer, target.currency
                if kind == "partial" and target.open_minor > 1:
                    settled.append(("invoice", target,
                                    max(1, int(target.open_minor * rng.uniform(0.2, 0.8)))))
                else:
                    settled.append(("invoice", target, target.open_minor))
                if kind == "two_invoices":
                    others = sorted(self.invoices.by_customer.get(customer, set()) - {target.document_id})
                    if others:
                        second = self.invoices.get(others[int(rng.integers(len(others)))])
                        assert second is not None
                        settled.append(("invoice", second, second.open_minor))
                amount = sum(minor for _t, _d, minor in settled)
                if kind == "over":
                    amount += max(1, int(amount * rng.uniform(0.01, 0.2)))  # the excess stays on account
            elif credit is not None:
                customer, currency = credit.customer, credit.currency
                refund = credit.open_minor if rng.random() < 0.5 else max(1, credit.open_minor // 2)
                settled.append(("credit_note", credit, refund))
                amount = -refund  # money paid out to the customer
                method = "bank_transfer"
            else:  # a payment on account: nothing allocated
                customer = int(rng.integers(len(self.customer_ids)))
                currency = self.customer_currency[customer]
                amount = max(1,
                             int(rng.lognormal(4.5, 0.8) / float(GBP_VALUE[currency])
                                 * 10 ** minor_units(currency)))
            for target_type, document, minor in settled:
                (self.invoices if target_type == "invoice" else self.credits).reduce(document, minor)
                allocations["payment_id"].append(payment_id)
                allocations["target_type"].append(target_type)
                allocations["target_id"].append(document.document_id)
                allocations["amount"].append(to_money(minor, currency))
            fee = amount * CARD_FEE_PER_MILLE // 1000 if method == "card" and amount > 0 else 0
            payments["payment_id"].append(payment_id)
            payments["customer_id"].append(self.customer_ids[customer])
            payments["paid_on"].append(day)
            payments["currency"].append(currency)
            # The rate of the day the money arrived, not the invoice's.
            payments["currency_rate"].append(self._rate(currency))
            payments["amount"].append(to_money(amount, currency))
            payments["fee_amount"].append(to_money(fee, currency))
            payments["method"].append(method)
            payments["reference"].append(f"RCPT-{self.position + 1:03d}-{number:07d}")
        payments["company_id"] = [self.company.company_id] * count
        payments["updated_at"] = list(self._times(day, count))
        out.add("ar_payments", self._frame(PAYMENT_COLUMNS, _dates(payments, "paid_on")))
        out.add("ar_payment_allocations",
                pd.DataFrame({"company_id": self.company.company_id, **allocations}))

    # ---------------------------------------------------------------- bad rows

    def _applicable_rules(self) -> list[str]:
        rules = list(BAD_ROW_RULES)
        if self.company.has_default("tax_rate"):
            rules.remove("unmapped_tax_code")
        if self.company.has_default("income_account"):
            rules.remove("unmapped_revenue_code")
        if not self.invoice_numbers:  # a duplicate of an earlier day's number, never of a same-day one
            rules.remove("duplicate_document_number")
        if not any(item.open_minor >= 2 for item in self.invoices.items[:50]):
            rules.remove("allocation_exceeds_payment")
        return rules

    def _bad_rows(self, day: date, out: CompanyDay) -> None:
        count = round(self.spec.invoices_per_day * self.spec.bad_row_fraction)
        if count == 0 or not self.customer_ids:
            return
        rules = self._applicable_rules()
        offset = self.sequence["bad"]
        self._next("bad", count)
        chosen = [rules[(offset + i) % len(rules)] for i in range(count)]
        invoice_rules = [r for r in chosen if not r.startswith("allocation_")]
        if invoice_rules:
            self._bad_invoices(day, invoice_rules, out)
        payment_rules = [r for r in chosen if r.startswith("allocation_")]
        if payment_rules:
            self._bad_payments(day, payment_rules, out)
        if self.fit.plants_a_reject and not self.planted_platform_reject:
            self._platform_reject(day, out)

    def _platform_reject(self, day: date, out: CompanyDay) -> None:
        """One invoice whose number is one character too long for this company's platform alone."""
        header, lines = self._invoice_batch(day, 1)
        header["status"] = ["submitted"]
        header["invoice_number"] = [too_long_number(header["invoice_number"][0], self.fit)]
        invoice_id = header["invoice_id"][0]
        out.bad_rows.append(BadRow("invoice", self.company.company_id, invoice_id, PLATFORM_RULE))
        out.add("ar_invoices", self._frame(INVOICE_COLUMNS, _dates(header, "issue_date", "due_date")))
        out.add("ar_invoice_lines", self._line_frame(lines, "invoice_id", [invoice_id], header["currency"]))
        self.planted_platform_reject = True

    def _bad_invoices(self, day: date, rules: list[str], out: CompanyDay) -> None:
        header, lines = self._invoice_batch(day, len(rules))
        header["status"] = ["submitted"] * len(rules)
        line_frame = self._line_frame(lines, "invoice_id", header["invoice_id"], header["currency"])
        first_of = {invoice_id: index
                    for index, invoice_id in line_frame["invoice_id"].drop_duplicates().items()}
        without_lines: list[str] = []
        for i, rule in enumerate(rules):
            invoice_id = header["invoice_id"][i]
            line = first_of[invoice_id]
            if rule == "unknown_customer":
                header["customer_id"][i] = f"CUST-UNKNOWN-{invoice_id}"
            elif rule == "duplicate_document_number":
                earlier = self.invoice_numbers
                header["invoice_number"][i] = earlier[int(self.rng.integers(len(earlier)))]
            elif rule == "due_before_issue":
                header["due_date"][i] = day - timedelta(days=int(self.rng.integers(1, 11)))
            elif rule == "invalid_currency":
                header["currency"][i] = "ZZZ"
                header["currency_rate"][i] = Decimal("1.0")  # so that only the currency is wrong
            elif rule == "missing_currency_rate":
                header["currency"][i] = self.foreign[0]
                header["currency_rate"][i] = None
            elif rule == "no_lines":
                without_lines.append(invoice_id)
            elif rule == "invalid_amount":
                gross = line_frame.at[line, "quantity"] * line_frame.at[line, "unit_amount"]
                line_frame.at[line, "discount_amount"] = gross.quantize(Decimal(1)) + 1  # more than the line
            elif rule == "unmapped_tax_code":
                line_frame.at[line, "tax_code"] = "TX-UNMAPPED"
            elif rule == "unmapped_revenue_code":
                line_frame.at[line, "revenue_code"] = "REV-UNMAPPED"
            out.bad_rows.append(BadRow("invoice", self.company.company_id, invoice_id, rule))
        out.add("ar_invoices", self._frame(INVOICE_COLUMNS, _dates(header, "issue_date", "due_date")))
        out.add("ar_invoice_lines", line_frame[~line_frame["invoice_id"].isin(without_lines)])

    def _bad_payments(self, day: date, rules: list[str], out: CompanyDay) -> None:
        rng = self.rng
        payments: dict[str, list] = {k: [] for k in PAYMENT_COLUMNS}
        allocations: dict[str, list] = {k: []
                                        for k in ("company_id", "payment_id", "target_type", "target_id",
                                                  "amount")}
        for rule, number in zip(rules, self._next("payment", len(rules)), strict=True):
            payment_id = f"PAY-{number:07d}"
            target = next((item for item in self.invoices.items[:50] if item.open_minor >= 2), None)
            if rule == "allocation_exceeds_payment" and target is not None:
                customer, currency, rate = target.customer, target.currency, target.rate
                amount, allocated, target_id = target.open_minor // 2, target.open_minor, target.document_id
            else:
                rule = "allocation_target_unknown"
                customer = int(rng.integers(len(self.customer_ids)))
                currency = self.customer_currency[customer]
                rate = self._rate(currency)
                amount = max(1, int(rng.integers(1_000, 100_000)))
                allocated, target_id = amount, f"INV-UNKNOWN-{number:07d}"
            payments["company_id"].append(self.company.company_id)
            payments["payment_id"].append(payment_id)
            payments["customer_id"].append(self.customer_ids[customer])
            payments["paid_on"].append(day)
            payments["currency"].append(currency)
            payments["currency_rate"].append(rate)
            payments["amount"].append(to_money(amount, currency))
            payments["fee_amount"].append(to_money(0, currency))
            payments["method"].append("bank_transfer")
            payments["reference"].append(f"RCPT-{self.position + 1:03d}-{number:07d}")
            payments["updated_at"].append(self._times(day, 1)[0])
            allocations["company_id"].append(self.company.company_id)
            allocations["payment_id"].append(payment_id)
            allocations["target_type"].append("invoice")
            allocations["target_id"].append(target_id)
            allocations["amount"].append(to_money(allocated, currency))
            out.bad_rows.append(BadRow("payment", self.company.company_id, payment_id, rule))
        out.add("ar_payments", pd.DataFrame(_dates(payments, "paid_on")))
        out.add("ar_payment_allocations", pd.DataFrame(allocations))

    # ---------------------------------------------------------------- one day

    def day(self, day: date, first_day: bool) -> CompanyDay:
        """All of this company's rows for business day ``day``."""
        out = CompanyDay()
        self._customers(day, first_day, out)
        self._invoices(day, out)
        self._credit_notes(day, out)
        self._payments(day, out)
        self._bad_rows(day, out)
        self.invoice_numbers.extend(self.todays_numbers)
        self.todays_numbers = []
        return out


def _scaled(value: int, decimals: int) -> Decimal:
    """An integer count of 10^-decimals as a Decimal without trailing zeros (12.5000 → 12.5, 3.00 → 3)."""
    while decimals and value % 10 == 0:
        value //= 10
        decimals -= 1
    return Decimal(value).scaleb(-decimals) if decimals else Decimal(value)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact integer sums of ``values`` per group ``index`` (0..size-1)."""
    totals = np.zeros(size, dtype=np.int64)
    np.add.at(totals, index, values)
    return totals


def _dates(columns: dict[str, list], *names: str) -> dict[str, object]:
    """Columns with the named date columns as ``datetime64[us]`` (midnight), the warehouse frame dtype."""
    result: dict[str, object] = dict(columns)
    for name in names:
        result[name] = pd.Series(pd.to_datetime(pd.Series(columns[name], dtype=object)),
                                 dtype="datetime64[us]")
    if "updated_at" in result:
        result["updated_at"] = pd.Series(result["updated_at"], dtype="datetime64[us]")
    return result


def generate_days(
    spec: SampleSpec, companies: Sequence[ProvisionedCompany]
) -> Iterator[tuple[date, dict[str, pd.DataFrame], list[BadRow]]]:
    """For each business day in order: the rows of every company for that day, and its bad rows."""
    generators = [CompanyGenerator(spec, company, position) for position, company in enumerate(companies)]
    for index, day in enumerate(spec.business_days):
        tables: dict[str, list[pd.DataFrame]] = {}
        bad_rows: list[BadRow] = []
        for generator in generators:
            produced = generator.day(day, first_day=index == 0)
            for table, frames in produced.tables.items():
                tables.setdefault(table, []).extend(frames)
            bad_rows.extend(produced.bad_rows)
        yield day, {t: pd.concat(f, ignore_index=True) for t, f in tables.items()}, bad_rows


def generate_sample(spec: SampleSpec,
                    companies: Sequence[ProvisionedCompany]) -> tuple[dict[str, pd.DataFrame], list[BadRow]]:
    """All days at once (small samples and tests): rows per table, the latest version of each customer."""
    collected: dict[str, list[pd.DataFrame]] = {}
    bad_rows: list[BadRow] = []
    for _day, tables, bad in generate_days(spec, companies):
        for table, frame in tables.items():
            collected.setdefault(table, []).append(frame)
        bad_rows.extend(bad)
    result = {t: pd.concat(f, ignore_index=True) for t, f in collected.items()}
    if "ar_customers" in result:
        result["ar_customers"] = (result["ar_customers"].drop_duplicates(["company_id", "customer_id"],
                                                                         keep="last")
                                  .reset_index(drop=True))
    return result, bad_rows
