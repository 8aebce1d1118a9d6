"""Hypothesis strategies for books the sample generator never writes.

A scenario is a few business days (the first one anywhere from 2019 on, later ones days to a year
after), each with a random subset of the document kinds — so a day may hold only customers, only
payments, only credit notes, or nothing but an edit — built against a running model of what exists so
far: allocations name real invoices (mostly of the right customer, sometimes more than is open), two
payments may hit the same invoice on the same day (one fits, one does not), and earlier invoices and
customers are edited on later days.

    @given(scenario=scenarios())
    def test_x(scenario): play(books, scenario)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st

KINDS = ("customers", "invoices", "credit_notes", "payments", "refunds", "credit_note_allocations", "clash",
         "edits", "payment_edits", "voids")
TAX_RATE = {"ZERO": Decimal(0), "STD": Decimal("0.20")}


@dataclass
class Document:
    document_id: str
    customer_id: str
    lines: list[tuple[int, str]]
    tax_code: str
    issued: date
    status: str = "submitted"
    allocated: Decimal = Decimal(0)   # what the model has allocated so far (rejected ones included)

    @property
    def total(self) -> Decimal:
        net = sum((q * Decimal(u) for q, u in self.lines), Decimal(0))
        return (net * (1 + TAX_RATE[self.tax_code])).quantize(Decimal("0.01"))

    @property
    def open(self) -> Decimal:
        return self.total - self.allocated


@dataclass
class Model:
    """What the scenario has written so far (the generator's view, not the pipeline's verdict)."""

    customers: list[str] = field(default_factory=list)
    invoices: list[Document] = field(default_factory=list)
    credit_notes: list[Document] = field(default_factory=list)
    allocated_pairs: set[tuple[str, str]] = field(default_factory=set)
    payments: list[Action] = field(default_factory=list)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


# One action is a tuple the player turns into rows: (kind, day offset in minutes, arguments...).
Action = tuple


def _money(draw, low: int, high: int) -> str:
    """An amount in pounds with pence, low..high pounds."""
    return str(Decimal(draw(st.integers(low * 100, high * 100))) / 100)


def _lines(draw) -> list[tuple[int, str]]:
    # Multiples of 5.00 keep 20% tax exact, so the model's totals are the pipeline's.
    return [(draw(st.integers(1, 3)), f"{draw(st.integers(1, 60)) * 5}.00")
            for _ in range(draw(st.integers(1, 2)))]


def _customer_of(draw, model: Model) -> str:
    return draw(st.sampled_from(model.customers))


def _new_customers(draw, model: Model, out: list[Action]) -> None:
    for _ in range(draw(st.integers(1, 2))):
        cid = model.next_id("C")
        model.customers.append(cid)
        out.append(("customer", cid, None))


def _new_documents(draw, model: Model, out: list[Action], kind: str, day: date) -> None:
    if not model.customers:
        # A document of a customer no batch ever carried: it must be rejected, not lost.
        out.append((kind, model.next_id("X"), "NOBODY", _lines(draw), "ZERO", day, "submitted"))
        return
    for _ in range(draw(st.integers(1, 2))):
        doc = Document(model.next_id("I" if kind == "invoice" else "N"), _customer_of(draw, model),
                       _lines(draw), draw(st.sampled_from(sorted(TAX_RATE))), day)
        if kind == "invoice":
            # Now and then a draft: what is allocated to it must wait until it is submitted.
            doc.status = draw(st.sampled_from(["submitted", "submitted", "submitted", "draft"]))
        (model.invoices if kind == "invoice" else model.credit_notes).append(doc)
        out.append(_document_action(kind, doc))


def _document_action(kind: str, doc: Document) -> Action:
    return (kind, doc.document_id, doc.customer_id, doc.lines, doc.tax_code, doc.issued, doc.status)


def _allocation_amount(draw, doc: Document) -> str:
    """Mostly what fits in the model's open amount, sometimes more than the whole document."""
    if doc.open > Decimal("0.01") and draw(st.booleans()):
        cents = draw(st.integers(1, int(doc.open * 100)))
        return str(Decimal(cents) / 100)
    return str(doc.total + Decimal(draw(st.integers(1, 50000))) / 100)


def _payments(draw, model: Model, out: list[Action]) -> None:
    for _ in range(draw(st.integers(1, 2))):
        if not model.customers:
            out.append(("payment", model.next_id("P"), "NOBODY", _money(draw, 1, 50), [], {}))
            continue
        customer = _customer_of(draw, model)
        theirs = [d for d in model.invoices if d.customer_id == customer]
        if draw(st.integers(0, 5)) == 0:
            theirs = model.invoices  # another customer's invoice, now and then: a mismatch to reject
        targets = draw(st.lists(st.sampled_from(theirs), max_size=2, unique_by=lambda d: d.document_id)) \
            if theirs else []
        allocations = []
        for doc in targets:
            amount = _allocation_amount(draw, doc)
            doc.allocated += Decimal(amount)
            allocations.append(("invoice", doc.document_id, amount))
        on_account = Decimal(draw(st.sampled_from([0, 0, 1000, 12345]))) / 100
        amount = sum((Decimal(a) for _, _, a in allocations), Decimal(0)) + on_account
        if amount == 0:
            amount = Decimal("10.00")
        card = draw(st.booleans())
        action = ("payment", model.next_id("P"), customer, str(amount), allocations,
                  {"method": "card", "fee": "1.50"} if card and amount > 2 else {})
        model.payments.append(action)
        out.append(action)


def _refunds(draw, model: Model, out: list[Action]) -> None:
    """Money paid back against a credit note: a negative payment allocated to the credit note."""
    notes = list(model.credit_notes)
    if not notes:
        return
    note = draw(st.sampled_from(notes))
    amount = _allocation_amount(draw, note)
    note.allocated += Decimal(amount)
    action = ("payment", model.next_id("P"), note.customer_id, f"-{amount}",
              [("credit_note", note.document_id,
                  amount)], {})
    model.payments.append(action)
    out.append(action)


def _payment_edits(draw, model: Model, out: list[Action]) -> None:
    """An earlier payment changed later (create-only in the platform: the change is reported, not sent)."""
    if not model.payments:
        return
    kind, payment_id, customer, amount, allocations, extra = draw(st.sampled_from(model.payments))
    edited = str(Decimal(amount) + (1 if Decimal(amount) > 0 else -1))
    out.append((kind, payment_id, customer, edited, allocations,
                {**extra, "reference": f"R-{payment_id}-v2"}))


def _voids(draw, model: Model, out: list[Action]) -> None:
    """An earlier invoice voided, or a draft one submitted."""
    if not model.invoices:
        return
    doc = draw(st.sampled_from(model.invoices))
    doc.status = "submitted" if doc.status == "draft" else "void"
    out.append(_document_action("invoice", doc))


def _credit_note_allocations(draw, model: Model, out: list[Action]) -> None:
    pairs = [(n, i) for n in model.credit_notes for i in model.invoices
             if n.customer_id == i.customer_id
             and (n.document_id, i.document_id) not in model.allocated_pairs]
    if not pairs:
        return
    note, invoice = draw(st.sampled_from(pairs))
    amount = _allocation_amount(draw, note if note.open < invoice.open else invoice)
    note.allocated += Decimal(amount)
    invoice.allocated += Decimal(amount)
    model.allocated_pairs.add((note.document_id, invoice.document_id))
    out.append(("credit_note_allocation", note.document_id, invoice.document_id, amount))


def _clash(draw, model: Model, out: list[Action]) -> None:
    """A valid and an invalid allocation on the same invoice on the same day."""
    candidates = [d for d in model.invoices if d.open > Decimal("0.01")]
    if not candidates:
        return
    doc = draw(st.sampled_from(candidates))
    fits = str(Decimal(draw(st.integers(1, int(doc.open * 100)))) / 100)
    too_much = str(doc.total + Decimal("0.01"))
    for amount in draw(st.permutations([fits, too_much])):
        out.append(("payment", model.next_id("P"), doc.customer_id, amount,
                    [("invoice", doc.document_id, amount)], {}))
    doc.allocated += Decimal(fits)


def _edits(draw, model: Model, out: list[Action]) -> None:
    """A later edit: an earlier invoice's line changes (up or down), or a customer's e-mail."""
    if model.invoices and draw(st.booleans()):
        doc = draw(st.sampled_from(model.invoices))
        doc.lines = [(doc.lines[0][0], f"{draw(st.integers(1, 60)) * 5}.00"), *doc.lines[1:]]
        out.append(_document_action("invoice", doc))
    elif model.customers:
        model.counter += 1
        out.append(("customer", draw(st.sampled_from(model.customers)),
                    f"changed{model.counter}@example.com"))


_BUILDERS = {"customers": _new_customers, "payments": _payments, "refunds": _refunds,
             "credit_note_allocations": _credit_note_allocations, "clash": _clash, "edits": _edits,
             "payment_edits": _payment_edits, "voids": _voids}


@st.composite
def scenarios(draw, max_days: int = 3) -> list[tuple[date, list[Action]]]:
    """Business days with their actions, in order."""
    model = Model()
    # Days that have begun only: a later day is refused (nothing to sync yet).
    yesterday = date.today() - timedelta(days=1)
    day = draw(st.dates(date(2019, 1, 1), yesterday - timedelta(days=3)))
    days = []
    for index in range(draw(st.integers(1, max_days))):
        if index:
            gaps = [g for g in (1, 1, 2, 31, 400) if day + timedelta(days=g) <= yesterday]
            if not gaps:
                break
            day += timedelta(days=draw(st.sampled_from(gaps)))
        kinds = draw(st.sets(st.sampled_from(KINDS), max_size=5))
        if index == 0 and draw(st.integers(0, 4)):
            # Most first nights open the books; the others start with what an odd warehouse holds.
            kinds |= {"customers", "invoices"}
        elif draw(st.integers(0, 2)) == 0:
            kinds |= {"payments", "clash"}
        actions: list[Action] = []
        for kind in KINDS:  # dependency order within a day
            if kind not in kinds:
                continue
            if kind in ("invoices", "credit_notes"):
                _new_documents(draw, model, actions, "invoice" if kind == "invoices" else "credit_note", day)
            else:
                _BUILDERS[kind](draw, model, actions)
        days.append((day, actions))
    return days


def play(books, day: date, actions: list[Action]) -> None:
    """Write a day's actions into the warehouse (each its own minute of the day)."""
    for minute, action in enumerate(actions):
        kind, *args = action
        if kind == "customer":
            books.customer(args[0], day, minute=minute, email=args[1])
        elif kind == "invoice":
            books.invoice(args[0], args[1], day, args[2], tax_code=args[3], minute=minute, issued=args[4],
                          status=args[5])
        elif kind == "credit_note":
            books.credit_note(args[0], args[1], day, args[2], tax_code=args[3], minute=minute)
        elif kind == "payment":
            books.payment(args[0], args[1], day, args[2], args[3], minute=minute, **args[4])
        elif kind == "credit_note_allocation":
            books.credit_note_allocation(args[0], args[1], day, args[2], minute=minute)
        else:
            raise ValueError(f"unknown action {kind}")
