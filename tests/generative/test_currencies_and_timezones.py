"""Issue 15: 0- and 3-decimal base currencies (JPY, BHD), a foreign-currency (CHF) invoice and a non-UTC
business timezone, end to end: warehouse → task functions → sandbox over HTTP → read-back → report.

The same books are written once in yen and once in dinars (every amount / 1000): lines with tax at
half-unit ties, a discount, a credit-note allocation, partial payments, and a CHF invoice paid in CHF at a
rate. The day is Pacific/Auckland's 20 November 2026 (NZDT, UTC+13): documents stamped a few seconds
after local midnight and before the next one are in its batch; one stamped just after the next local
midnight — still 20 November in UTC — is not.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from receivables.batches import business_day_window
from receivables.settings import SyncSettings
from tests.generative.books import Books, amounts_due_agree, ledger_ids_exist, no_divergence, open_books

pytestmark = pytest.mark.slow

TZ = "Pacific/Auckland"
DAY = date(2026, 11, 20)
# The local day in naive UTC, written out by hand so a wrong window cannot agree with itself.
LOCAL_START, LOCAL_END = datetime(2026, 11, 19, 11, 0), datetime(2026, 11, 20, 11, 0)
JUST_INSIDE_START = LOCAL_START + timedelta(seconds=30)   # 00:00:30 NZDT on the 20th (19th in UTC)
JUST_INSIDE_END = LOCAL_END - timedelta(seconds=30)       # 23:59:30 NZDT on the 20th
JUST_OUTSIDE_END = LOCAL_END + timedelta(seconds=30)      # 00:00:30 NZDT on the 21st (still the 20th in UTC)
CHF_RATE = {"JPY": Decimal("170.5"), "BHD": Decimal("0.425")}  # base per CHF

# (currency, divisor, places): the same yen figures, read as dinars / 1000.
CURRENCIES = [("JPY", 1, 0), ("BHD", 1000, 3)]


def _amount(yen: str, divisor: int, places: int) -> Decimal:
    return (Decimal(yen) / divisor).quantize(Decimal(1).scaleb(-places))


def _write_day(books: Books, divisor: int, places: int) -> dict[str, Decimal]:
    """The day's rows; returns the expected (half-up, line-rounded) total of each invoice and credit note."""
    base = books.company.base_currency

    def a(yen: str) -> Decimal:
        return _amount(yen, divisor, places)

    def line(id_column: str, doc: str, n: int, qty: int, unit: Decimal, tax: str | None,
             discount: Decimal = Decimal(0)) -> dict[str, Any]:
        return {id_column: doc, "line_no": n, "description": f"line {n}", "quantity": Decimal(qty),
                "unit_amount": unit, "discount_amount": discount, "tax_code": tax, "revenue_code": "SALES",
                "tracking_code": None}

    def invoice(doc: str, customer: str, stamp: datetime, lines: list[dict[str, Any]], *,
                currency: str = base, rate: Decimal | None = None) -> None:
        books.put("ar_invoices", [{"invoice_id": doc, "invoice_number": doc, "customer_id": customer,
                                   "issue_date": DAY, "due_date": DAY + timedelta(days=30),
                                   "currency": currency,
                                   "currency_rate": rate, "status": "submitted", "note": None,
                                   "updated_at": stamp}])
        books.put("ar_invoice_lines", lines)

    def payment(doc: str, customer: str, stamp: datetime, amount: Decimal, target: str, *,
                currency: str = base, rate: Decimal | None = None) -> None:
        books.put("ar_payments", [{"payment_id": doc, "customer_id": customer, "paid_on": DAY,
                                   "currency": currency, "currency_rate": rate, "amount": amount,
                                   "fee_amount": Decimal(0), "method": "bank_transfer",
                                   "reference": f"R-{doc}", "updated_at": stamp}])
        books.put("ar_payment_allocations",
                  [{"payment_id": doc, "target_type": "invoice", "target_id": target,
                    "amount": amount}])

    for customer, currency in (("C1", base), ("C2", "CHF")):
        books.put("ar_customers", [{"customer_id": customer, "name": f"Customer {customer}",
                                    "email": f"{customer.lower()}@example.com", "default_currency": currency,
                                    "updated_at": JUST_INSIDE_START}])
    # I1: 10 at 5% (tax 0.5 -> 1), 3 x 1005 less 5 at 5% (150.5 -> 151), 333 at 20% (66.6 -> 67): 3572.
    invoice("I1", "C1", JUST_INSIDE_START, [
        line("invoice_id", "I1", 1, 1, a("10"), "RED"),
        line("invoice_id", "I1", 2, 3, a("1005"), "RED", discount=a("5")),
        line("invoice_id", "I1", 3, 1, a("333"), "STD")])
    # I2: 2 x 2500 at 20% and a zero-rated 7: 6007.
    invoice("I2", "C1", JUST_INSIDE_END, [line("invoice_id", "I2", 1, 2, a("2500"), "STD"),
                                          line("invoice_id", "I2", 2, 1, a("7"), "ZERO")])
    # F1 in CHF: 123.45 at 5% (6.1725 -> 6.17): 129.62 CHF, paid in CHF at the same rate.
    invoice("F1", "C2", JUST_INSIDE_END, [line("invoice_id", "F1", 1, 1, Decimal("123.45"), "RED")],
            currency="CHF", rate=CHF_RATE[base])
    # LATE is the next local day's: not in this batch, though its UTC date is the 20th.
    invoice("LATE", "C1", JUST_OUTSIDE_END, [line("invoice_id", "LATE", 1, 1, a("999"), "ZERO")])

    books.put("ar_credit_notes", [{"credit_note_id": "N1", "credit_note_number": "N1", "customer_id": "C1",
                                   "issue_date": DAY, "currency": base, "currency_rate": None,
                                   "status": "submitted", "note": None, "updated_at": JUST_INSIDE_START}])
    books.put("ar_credit_note_lines", [line("credit_note_id", "N1", 1, 1, a("1000"), "ZERO")])
    books.put("ar_credit_note_allocations", [{"credit_note_id": "N1", "invoice_id": "I2", "amount": a("1000"),
                                              "allocated_on": DAY, "updated_at": JUST_INSIDE_END}])
    payment("P1", "C1", JUST_INSIDE_END, a("1572"), "I1")      # partial: 2000 left on I1
    payment("P2", "C1", JUST_INSIDE_START, a("2500"), "I2")    # partial: 6007 - 1000 - 2500 = 2507 left
    payment("PF", "C2", JUST_INSIDE_END, Decimal("129.62"), "F1", currency="CHF", rate=CHF_RATE[base])
    return {"I1": a("3572"), "I2": a("6007"), "F1": Decimal("129.62"), "N1": a("1000")}


MONEY_FIELDS = ("totalAmount", "subTotal", "totalTaxAmount", "amountDue", "totalDiscount", "remainingCredit")
LINE_FIELDS = ("unitAmount", "discountAmount", "subTotal", "taxAmount", "totalAmount")


def _decimals(value: Any) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent)


@pytest.mark.parametrize(("currency", "divisor", "places"), CURRENCIES)
def test_minor_units_and_local_business_day_end_to_end(gen_sandbox, gen_engine, tmp_path, namespace,
                                                       currency, divisor, places):
    assert business_day_window(DAY, TZ) == (LOCAL_START, LOCAL_END)
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=namespace, base_currency=currency)
    books.settings = lambda: SyncSettings(report_dir=str(books.report_dir), timezone=TZ)
    expected_totals = _write_day(books, divisor, places)
    result = books.run_day(DAY)

    # The local day's batch: LATE is not in it (nor anywhere downstream).
    batch = result["sync"]["batch"]
    assert batch["ar_invoices"] == 3, batch
    assert batch["ar_customers"] == 2 and batch["ar_credit_notes"] == 1 and batch["ar_payments"] == 3, batch

    rejects = books.table("ar_rejects")
    assert rejects.empty, rejects[["document_type", "source_id", "rule", "message"]].to_dict("records")
    ledger = books.table("ar_push_ledger")
    status = dict(zip(zip(ledger["document_type"], ledger["source_id"], strict=True), ledger["status"],
                      strict=True))
    pushed = {("customer", "C1"), ("customer", "C2"), ("invoice", "I1"), ("invoice", "I2"), ("invoice", "F1"),
              ("credit_note", "N1"), ("credit_note_allocation", "N1:I2"), ("payment", "P1"),
              ("payment", "P2"), ("payment", "PF")}
    assert status == dict.fromkeys(pushed, "success")

    # Read back: base-currency money has the currency's decimals and equals the source totals exactly.
    platform_id = dict(zip(ledger["source_id"], ledger["platform_id"], strict=True))
    records = {**{r["id"]: r for r in books.platform("invoices")},
               **{r["id"]: r for r in books.platform("creditNotes")}}
    for doc, total in expected_totals.items():
        record = records[platform_id[doc]]
        assert Decimal(str(record["totalAmount"])) == total, (doc, record["totalAmount"], total)
        assert record["currency"] == ("CHF" if doc == "F1" else currency)
        limit = 2 if doc == "F1" else places
        money = [record[f] for f in MONEY_FIELDS if record.get(f) is not None]
        money += [item[f] for item in record["lineItems"] for f in LINE_FIELDS if item.get(f) is not None]
        assert all(_decimals(v) <= limit for v in money), (doc, money)
        if doc == "F1":
            assert Decimal(str(record["currencyRate"])) == CHF_RATE[currency]
    for payment in books.platform("payments"):
        assert _decimals(payment["totalAmount"]) <= (2 if payment["currency"] == "CHF" else places), payment
    due = {doc: Decimal(str(records[platform_id[doc]]["amountDue"])) for doc in ("I1", "I2", "F1")}
    assert due == {"I1": _amount("2000", divisor, places), "I2": _amount("2507", divisor, places),
                   "F1": Decimal(0)}

    # Reconciliation: every document matched, the report's amount due is the platform's.
    report = books.table("ar_reconciliation", report_date=DAY)
    outcomes = dict(zip(zip(report["document_type"], report["source_id"], strict=True), report["outcome"],
                        strict=True))
    assert ("invoice", "LATE") not in outcomes
    assert {k: v for k, v in outcomes.items() if k in pushed} == dict.fromkeys(
        {k for k in pushed if k in outcomes}, "matched")
    assert {("invoice", "I1"), ("invoice", "I2"), ("invoice", "F1"), ("credit_note", "N1")} <= set(outcomes)
    assert set(outcomes.values()) == {"matched"}, outcomes
    for doc in ("I1", "I2"):
        row = report[(report["document_type"] == "invoice") & (report["source_id"] == doc)].iloc[0]
        assert Decimal(str(row["source_amount_due"])) == due[doc]
    assert not amounts_due_agree(books, DAY)
    assert not ledger_ids_exist(books)
    assert not no_divergence(books, DAY)
