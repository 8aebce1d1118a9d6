"""What a company's platform accepts, as the sample data needs it: the happy path must fit it.

The sandbox's platform rules (:mod:`codat_sandbox.platforms`) are the one source: a company on
QuickBooks Online gets no draft invoices, a tax code on every line and documents in its base currency
only (multi-currency is off there); one on Oracle NetSuite no credit-note allocations or refunds through
payments. Each non-Xero company also gets one planted invoice whose number is one character longer than
its platform allows and that every other platform accepts (rule ``platform_rule``), when the sample
plants bad rows at all.

    >>> fit = PlatformFit.of("QuickBooks Online")
    >>> fit.drafts, fit.untaxed_lines, fit.foreign_currency, fit.credit_note_links, fit.number_limit
    (False, False, False, True, 21)
    >>> credit_note_id(42, fit)  # "CN-000042:INV-0000042" is 21 characters
    'CN-000042'
"""

from __future__ import annotations

from dataclasses import dataclass

from codat_sandbox import platforms

PLATFORM_RULE = "platform_rule"
# The platforms of the demo's companies, in order (``make demo`` shows one company per platform).
ONE_PER_PLATFORM: tuple[str, ...] = tuple(p.name for p in platforms.PLATFORMS)


@dataclass(frozen=True)
class PlatformFit:
    """The traits of a platform the generator must respect."""

    name: str
    drafts: bool  # invoices may be created as Draft
    untaxed_lines: bool  # a line may go without a tax rate
    foreign_currency: bool  # documents and customers in other currencies than the base
    credit_note_links: bool  # credit notes may be allocated or refunded through payments
    number_limit: int  # the longest document number it takes
    reference_limit: int  # the longest payment reference (an allocation's is "{cn id}:{invoice id}")

    @classmethod
    def of(cls, platform_name: str) -> PlatformFit:
        plat = platforms.platform(platform_name)
        rules = {(data_type, rule.path): rule for data_type, kept in plat.rules.items() for rule in kept}
        status = rules.get(("invoices", "status"))
        tax = rules.get(("invoices", "lineItems.taxRateRef.id"))
        links = rules.get(("payments", "lines.links.type"))
        limits = [rule.max_length for (data_type, path), rule in rules.items()
                  if path in ("invoiceNumber", "creditNoteNumber") and rule.max_length is not None]
        reference = rules.get(("payments", "reference"))
        return cls(
            name=plat.name,
            drafts=status is None or status.allowed is None or "Draft" in status.allowed,
            untaxed_lines=tax is None or not tax.required,
            foreign_currency=plat.multi_currency,
            credit_note_links=links is None or links.allowed is None or "CreditNote" in links.allowed,
            number_limit=min(limits) if limits else 255,
            reference_limit=reference.max_length if reference and reference.max_length else 255,
        )

    @property
    def plants_a_reject(self) -> bool:
        """Whether this platform gets a planted ``platform_rule`` invoice (every platform but Xero)."""
        return self.name != platforms.DEFAULT.name


def too_long_number(number: str, fit: PlatformFit) -> str:
    """``number`` padded to one character more than ``fit`` allows (``001-0000042-XXXX…``)."""
    return (number + "-" + "X" * fit.number_limit)[: fit.number_limit + 1]


def credit_note_id(number: int, fit: PlatformFit) -> str:
    """A credit note's source id: one digit shorter where the platform's payment references are too short
    for the allocation reference ``CN-0000042:INV-0000042`` (22 characters; QuickBooks Online takes 21)."""
    digits = 7 if fit.reference_limit >= 22 else 6  # CN-nnnnnnn:INV-nnnnnnn
    return f"CN-{number:0{digits}d}"


def platforms_for(count: int, namespace: str) -> list[str]:
    """The platform of each of ``count`` companies: one per platform in turn for the demo, else Xero."""
    if namespace == "demo":
        return [ONE_PER_PLATFORM[i % len(ONE_PER_PLATFORM)] for i in range(count)]
    return [platforms.DEFAULT.name] * count
