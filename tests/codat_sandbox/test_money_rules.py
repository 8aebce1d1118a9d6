"""Money rules as strict as Codat's: exact document totals, one minor unit of rounding on lines only,
whole minor units in 0- and 3-decimal currencies (JPY, BHD), and foreign currencies end to end."""

from __future__ import annotations

import pytest

from codat_sandbox import seed
from codat_sandbox.validation import (
    DictCompanyView,
    validate_credit_note,
    validate_direct_cost,
    validate_invoice,
    validate_payment,
)
from tests.codat_sandbox.builders import (
    Api,
    account_id,
    credit_note,
    exact_sum,
    invoice,
    invoice_line,
    payment,
    tax_rate_id,
)

CO = "22222222-2222-4222-8222-222222222222"
NOW = "2026-05-01T00:00:00.000Z"


def view(base: str = "GBP", **records) -> DictCompanyView:
    data = {kind: {r["id"]: r for r in rows} for kind, rows in seed.reference_data(CO, base, NOW).items()}
    data["customers"] = {"C1": {"id": "C1", "customerName": "One", "status": "Active"}}
    for kind, rows in records.items():
        data[kind] = {r["id"]: r for r in rows}
    return DictCompanyView(base, data)


def messages(items) -> list[str]:
    return [item["message"] for item in items]


def line(net, tax, *, quantity=1, unit=None, discount=0, rate="STANDARD", **more):
    unit = net if unit is None else unit
    return invoice_line(CO, quantity=quantity, unitAmount=unit, discountAmount=discount, subTotal=net,
                        taxAmount=tax,
                        totalAmount=_add(net, tax), taxRateRef={"id": tax_rate_id(CO, rate)}, **more)


def _add(a, b):
    return exact_sum([a, b])


def doc(lines, currency="GBP", **overrides):
    body = invoice(CO, "C1", lines, currency=currency, currencyRate=1)
    body.update(overrides)
    return body


# ---- document totals are exact -------------------------------------------------------------------

@pytest.mark.parametrize("field", ["totalAmount", "subTotal", "totalTaxAmount"])
def test_an_invoice_one_minor_unit_off_its_lines_is_refused(field):
    body = doc([line(10.0, 2.0), line(5.55, 1.11)])
    body[field] = round(body[field] + 0.01, 2)
    if field == "totalAmount":
        body["amountDue"] = body["totalAmount"]
    assert any(f"{field} " in m and "does not equal the sum of the line items" in m
               for m in messages(validate_invoice(body, view()))), messages(validate_invoice(body, view()))


def test_a_total_that_is_off_by_less_than_a_minor_unit_is_refused_too():
    body = doc([line(10.0, 2.0)], totalAmount=12.009, amountDue=12.009)
    found = messages(validate_invoice(body, view()))
    assert any("does not equal the sum of the line items (12)" in m for m in found), found
    assert any("more decimal places than GBP allows (2)" in m for m in found), found


def test_float_sums_do_not_fool_the_check():
    # 0.1 + 0.2 != 0.3 in floats; as written decimals they are equal.
    body = doc([line(0.1, 0.02), line(0.2, 0.04)], subTotal=0.3, totalTaxAmount=0.06, totalAmount=0.36,
               amountDue=0.36)
    assert validate_invoice(body, view()) == []


def test_total_discount_is_the_sum_of_the_line_discounts():
    lines = [line(90.0, 18.0, unit=100, discount=10)]
    assert validate_invoice(doc(lines, totalDiscount=10), view()) == []
    assert any("totalDiscount 0 does not equal" in m for m in messages(validate_invoice(doc(lines), view())))


def test_a_line_may_be_one_minor_unit_off_quantity_times_unit_amount_but_not_two():
    # 3 × 3.333 = 9.999: a subTotal of 10.00 is what rounding explains; 10.01 is not.
    ok = doc([line(10.0, 2.0, quantity=3, unit=3.333)])
    assert validate_invoice(ok, view()) == []
    bad = doc([line(10.01, 2.0, quantity=3, unit=3.333)])
    assert any("subTotal 10.01 does not equal quantity × unitAmount less discount (9.999)" in m
               for m in messages(validate_invoice(bad, view())))


def test_a_line_tax_may_be_one_minor_unit_off_the_rate_but_not_two():
    assert validate_invoice(doc([line(10.05, 2.02)]), view()) == []  # 20% of 10.05 = 2.01
    found = messages(validate_invoice(doc([line(10.05, 2.04)]), view()))
    assert any("taxAmount 2.04 does not match the tax rate (20% of 10.05)" in m for m in found), found


def test_a_line_total_is_exactly_sub_total_plus_tax():
    body = doc([line(10.0, 2.0)])
    body["lineItems"][0]["totalAmount"] = 12.01
    body["totalAmount"] = body["amountDue"] = 12.01
    assert any("totalAmount 12.01 must equal subTotal + taxAmount (12)" in m
               for m in messages(validate_invoice(body, view())))


def test_amount_due_and_remaining_credit_equal_the_total_exactly_on_create():
    assert any("amountDue 11.99 must equal totalAmount 12" in m
               for m in messages(validate_invoice(doc([line(10.0, 2.0)], amountDue=11.99), view())))
    note = credit_note(CO, "C1", 50.0, remainingCredit=59.99)
    found = messages(validate_credit_note(note, view()))
    assert any("remainingCredit 59.99 must equal totalAmount 60" in m for m in found), found


# ---- 0- and 3-decimal currencies -----------------------------------------------------------------

def test_jpy_amounts_are_whole_yen():
    jpy = view("JPY")
    assert validate_invoice(doc([line(1000, 200), line(333, 67)], currency="JPY"), jpy) == []
    # 20% of 333 is 66.6: 67 is within one yen. A fractional yen anywhere is refused.
    found = messages(validate_invoice(doc([line(1000.5, 200.1)], currency="JPY"), jpy))
    expected = "lineItems[0].subTotal 1000.5 has more decimal places than JPY allows (0)"
    assert any(expected in m for m in found), found
    assert any("totalAmount 1200.6 has more decimal places than JPY allows (0)" in m for m in found), found
    # One yen of rounding on a line is accepted, two are not.
    assert validate_invoice(doc([line(1000, 200, quantity=3, unit=333.33)], currency="JPY"), jpy) == []
    assert validate_invoice(doc([line(1001, 200, quantity=3, unit=333.33)], currency="JPY"), jpy)


def test_bhd_amounts_have_three_decimals():
    bhd = view("BHD")
    assert validate_invoice(doc([line(10.125, 2.025), line(0.001, 0)], currency="BHD"), bhd) == []
    found = messages(validate_invoice(doc([line(10.1255, 2.0251)], currency="BHD"), bhd))
    assert any("has more decimal places than BHD allows (3)" in m for m in found), found
    # A BHD total 0.001 off its lines is refused (a 2-decimal tolerance would have hidden it).
    assert any("does not equal the sum of the line items" in m for m in messages(
        validate_invoice(doc([line(10.125, 2.025)], currency="BHD", totalAmount=12.151, amountDue=12.151),
                         bhd)))


def test_absurd_amounts_are_errors_not_crashes():
    body = doc([line(10.0, 2.0)], totalTaxAmount=-1.7976931348623157e308, subTotal=-3.0590737465710788e88,
               totalAmount=1.175494351e-38)
    found = messages(validate_invoice(body, view()))
    assert any("totalAmount 0.00000000000000000000000000000000000001175494351 has more decimal places" in m
               for m in found), found


def test_payment_totals_are_exact_and_in_minor_units():
    invoices = [{"id": "I1", "customerRef": {"id": "C1"}, "status": "Submitted", "currency": "JPY",
                 "totalAmount": 1200, "amountDue": 1200}]
    jpy = view("JPY", invoices=invoices)
    good = payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -1200}], currency="JPY")
    assert validate_payment(good, jpy) == []
    off = payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -1200}], currency="JPY", amount=1201)
    off["lines"][0]["amount"] = 1200
    found = messages(validate_payment(off, jpy))
    assert any("totalAmount 1201 must equal the sum of the line amounts (1200)" in m for m in found), found
    fractional = payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -1199.5}], currency="JPY")
    assert any("has more decimal places than JPY allows" in m for m in messages(validate_payment(fractional,
                                                                                                 jpy)))
    unbalanced = payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -1199}], currency="JPY",
                         amount=1200)
    assert any("plus its links (-1199) must be 0" in m for m in messages(validate_payment(unbalanced, jpy)))


def test_a_converted_link_may_be_one_minor_unit_off_but_not_two():
    invoices = [{"id": "I1", "customerRef": {"id": "C1"}, "status": "Submitted", "currency": "SEK",
                 "totalAmount": 1000, "amountDue": 1000}]
    gbp = view("GBP", invoices=invoices)
    # 1000 SEK at 0.0733 GBP/SEK = 73.30 GBP; 73.31 is what rounding of the rate explains, 73.32 is not.
    for amount, ok in ((73.30, True), (73.31, True), (73.32, False)):
        body = payment(CO, "C1", [{"type": "Invoice", "id": "I1", "amount": -1000, "currencyRate": 0.0733}],
                       amount=amount)
        assert (validate_payment(body, gbp) == []) is ok, (amount, messages(validate_payment(body, gbp)))


def test_direct_cost_totals_are_exact_sums():
    body = {"issueDate": "2026-05-01T00:00:00", "currency": "GBP", "reference": "FEES",
            "lineItems": [{"description": "Fees", "unitAmount": 1.1, "quantity": 1, "subTotal": 1.1,
                           "taxAmount": 0,
                           "totalAmount": 1.1, "accountRef": {"id": account_id(CO, "6100")}},
                          {"description": "Fees", "unitAmount": 2.2, "quantity": 1, "subTotal": 2.2,
                           "taxAmount": 0,
                           "totalAmount": 2.2, "accountRef": {"id": account_id(CO, "6100")}}],
            "paymentAllocations": [{"payment": {"accountRef": {"id": account_id(CO, "1210")}},
                                    "allocation": {"totalAmount": 3.3}}],
            "subTotal": 3.3, "taxAmount": 0, "totalAmount": 3.3}
    assert validate_direct_cost(body, view()) == []  # 1.1 + 2.2 is 3.3 exactly, though not in floats
    body["subTotal"] = 3.31
    assert any("subTotal 3.31 does not equal the sum of the line items (3.3)" in m
               for m in messages(validate_direct_cost(body, view())))


# ---- through the sandbox: validation, payment effects, read-back ---------------------------------

@pytest.mark.parametrize(("base", "net", "tax", "paid", "due"), [
    ("JPY", 10000, 2000, 4567, 7433),
    ("BHD", 10.125, 2.025, 3.333, 8.817),
    ("GBP", 0.1, 0.02, 0.07, 0.05),
])
def test_payments_reduce_amounts_due_exactly_in_each_currency(server, http, base, net, tax, paid, due):
    company = server.admin.create_company(f"{base} Money Ltd", base)
    api = Api(http, company)
    customer = api.customer()
    line_body = invoice_line(company["id"], net, taxAmount=tax, totalAmount=_add(net, tax))
    body = invoice(company["id"], customer, [line_body], currency=base)
    invoice_id = api.create("invoices", body)
    pay = payment(company["id"], customer, [{"type": "Invoice", "id": invoice_id, "amount": -paid}],
                  currency=base)
    assert api.push("payments", pay)["status"] == "Success"
    read = api.get("invoices", invoice_id)
    assert (read["amountDue"], read["status"], read["currency"]) == (due, "PartiallyPaid", base)
    if base == "JPY":
        assert isinstance(read["amountDue"], int)  # whole yen, never 7433.000000001
    rest = payment(company["id"], customer, [{"type": "Invoice", "id": invoice_id, "amount": -due}],
                   currency=base,
                   reference="RCPT-2")
    assert api.push("payments", rest)["status"] == "Success"
    assert (api.get("invoices", invoice_id)["amountDue"], api.get("invoices", invoice_id)["status"]) == (0,
                                                                                                         "Paid")
    over = payment(company["id"], customer, [{"type": "Invoice", "id": invoice_id, "amount": -paid}],
                   currency=base,
                   reference="RCPT-3")
    assert api.push("payments", over)["status"] == "Failed"


def test_a_foreign_currency_invoice_paid_in_the_base_currency(server, http):
    """A GBP company bills in CHF and is paid in GBP: the link is in CHF, the payment in GBP."""
    company = server.admin.create_company("Swiss Client Ltd", "GBP")
    api = Api(http, company)
    customer = api.customer()
    body = invoice(company["id"], customer, [invoice_line(company["id"], 250.0)], currency="CHF",
                   currencyRate=0.88)
    assert api.push("invoices", dict(body, currencyRate=None))["status"] == "Failed"  # a rate is required
    invoice_id = api.create("invoices", body)
    pay = payment(company["id"], customer,
                  [{"type": "Invoice", "id": invoice_id, "amount": -100, "currencyRate": 0.88}],
                  amount=88.0)
    assert api.push("payments", pay)["status"] == "Success"
    read = api.get("invoices", invoice_id)
    assert (read["currency"], read["amountDue"], read["status"]) == ("CHF", 200, "PartiallyPaid")
    allocation = read["paymentAllocations"][0]
    assert allocation["allocation"]["currency"] == "CHF" and allocation["payment"]["currency"] == "GBP"
    listed = http.get(f"/companies/{company['id']}/data/invoices", params={"query": "currency=CHF"}).json()
    assert [r["id"] for r in listed["results"]] == [invoice_id]
    off = payment(company["id"], customer,
                  [{"type": "Invoice", "id": invoice_id, "amount": -100, "currencyRate": 0.88}],
                  amount=88.02, reference="RCPT-9")
    assert any("plus its links" in m for m in api.errors(api.push("payments", off)))


def test_a_3_decimal_credit_note_allocation(server, http):
    company = server.admin.create_company("Bahrain Allocations", "BHD")
    api = Api(http, company)
    customer = api.customer()
    invoice_id = api.create("invoices", invoice(company["id"], customer,
                                                [invoice_line(company["id"], 10.125, taxAmount=2.025,
                                                              totalAmount=12.15)],
                                                currency="BHD"))
    note_id = api.create("creditNotes", credit_note(company["id"], customer, 5.005, currency="BHD",
                                                    lineItems=[invoice_line(company["id"], 5.005,
                                                                            taxAmount=1.001,
                                                                            totalAmount=6.006)],
                                                    subTotal=5.005, totalTaxAmount=1.001, totalAmount=6.006,
                                                    remainingCredit=6.006))
    allocation = payment(company["id"], customer, [{"type": "Invoice", "id": invoice_id, "amount": -6.006},
                                                   {"type": "CreditNote", "id": note_id, "amount": 6.006}],
                         amount=0, currency="BHD")
    assert api.push("payments", allocation)["status"] == "Success"
    assert api.get("invoices", invoice_id)["amountDue"] == 6.144
    assert (api.get("creditNotes", note_id)["remainingCredit"],
            api.get("creditNotes", note_id)["status"]) == (0, "Paid")
