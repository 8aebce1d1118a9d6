"""Money rules: currencies, minor units, half-up rounding and the line arithmetic. The only home of them.

Every amount is a :class:`decimal.Decimal`; nothing here ever goes through a binary float. Rounding is
ISO 4217 minor units, half-up (``0.005 GBP -> 0.01``, ``-0.005 GBP -> -0.01``: away from zero on a tie).

    >>> round_half_up(Decimal("2.675"), "GBP")
    Decimal('2.68')
    >>> to_minor(Decimal("1500"), "JPY"), from_minor(12345, "BHD")
    (1500, Decimal('12.345'))
    >>> line_amounts([Decimal(3)], [Decimal("9.99")], [Decimal(0)], [Decimal(20)], ["GBP"])
    ([Decimal('29.97')], [Decimal('5.99')], [Decimal('35.96')])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

import pandas as pd

# Enough digits that no product of two NUMERIC(18, x) values is ever rounded by the context itself;
# the only rounding that happens is the explicit quantize to minor units.
MONEY_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)

# Amounts at or beyond this are not believable receivables (NUMERIC(18, 4) tops out below 10**14).
MAX_ABS_AMOUNT = Decimal(10) ** 14

# ISO 4217 list one (active currency and fund codes) as of 2026. Precious metals, testing codes, XDR
# and XXX ("no currency") are deliberately absent: an invoice cannot be issued in them. BGN and ANG are
# kept during their euro / XCG changeover because older documents still carry them.
ISO4217_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES
    KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)

# Exceptions to the default of 2 minor units (ISO 4217 "Minor unit" column).
_MINOR_UNITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
DEFAULT_MINOR_UNITS = 2

# quantize() targets per number of minor units: Decimal('1'), Decimal('0.01'), ...
_EXPONENTS = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}


def is_iso4217(code: object) -> bool:
    """Whether ``code`` is an active ISO 4217 currency code (exactly three upper-case letters)."""
    return isinstance(code, str) and code in ISO4217_CODES


def minor_units(currency: str) -> int:
    """Decimal places of ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)


def is_finite_amount(value: object) -> bool:
    """Whether ``value`` is a usable number: a finite Decimal/int/float, not None, NaN or infinity."""
    if value is None or value is pd.NA or isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def as_decimal(value: object) -> Decimal:
    """An exact Decimal for a finite Decimal or int (floats only via their shortest repr, for bad input)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    raise InvalidOperation(f"not a finite amount: {value!r}")


def decimal_places(value: Decimal) -> int:
    """How many decimals ``value`` is written with, ignoring trailing zeros (``1.50`` -> 1)."""
    exponent = value.normalize(MONEY_CONTEXT).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_half_up(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half-up (ties away from zero) to the currency's minor units."""
    return value.quantize(_EXPONENTS[minor_units(currency)], rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)


def to_minor(value: Decimal, currency: str) -> int:
    """Integer minor units of ``value`` after half-up rounding (``12.345 GBP -> 1235``)."""
    return int(round_half_up(value, currency).scaleb(minor_units(currency), context=MONEY_CONTEXT))


def from_minor(amount: int, currency: str) -> Decimal:
    """The Decimal amount for ``amount`` minor units, written with the currency's decimals."""
    return Decimal(int(amount)).scaleb(-minor_units(currency), context=MONEY_CONTEXT).quantize(
        _EXPONENTS[minor_units(currency)], context=MONEY_CONTEXT
    )


# --- vectorised helpers ---------------------------------------------------------------------------


def minor_units_series(currencies: pd.Series) -> pd.Series:
    """Minor units per row of a currency column (Int64)."""
    return currencies.map(lambda c: _MINOR_UNITS.get(c, DEFAULT_MINOR_UNITS)).astype("Int64")


def round_many(values: Iterable[Decimal], currencies: Iterable[str]) -> list[Decimal]:
    """Half-up rounding of many amounts, each to its own currency's minor units."""
    exps = _EXPONENTS
    units = _MINOR_UNITS
    return [
        v.quantize(exps[units.get(c, DEFAULT_MINOR_UNITS)], rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)
        for v, c in zip(values, currencies, strict=True)
    ]


def round_series(values: pd.Series, currencies: pd.Series) -> pd.Series:
    """:func:`round_half_up` over two aligned Series; the result is an object Series of Decimals."""
    return pd.Series(round_many(values, currencies), index=values.index, dtype=object)


def to_minor_series(values: pd.Series, currencies: pd.Series) -> pd.Series:
    """:func:`to_minor` over two aligned Series (Python ints in an object Series: no int64 overflow)."""
    return pd.Series(
        [to_minor(v, c) for v, c in zip(values, currencies, strict=True)], index=values.index, dtype=object
    )


def from_minor_series(amounts: pd.Series, currencies: pd.Series) -> pd.Series:
    """:func:`from_minor` over two aligned Series."""
    return pd.Series(
        [from_minor(a, c) for a, c in zip(amounts, currencies, strict=True)], index=amounts.index, dtype=object
    )


def line_amounts(
    quantities: Sequence[Decimal],
    unit_amounts: Sequence[Decimal],
    discounts: Sequence[Decimal],
    tax_rates: Sequence[Decimal | None],
    currencies: Sequence[str],
) -> tuple[list[Decimal], list[Decimal], list[Decimal]]:
    """Rounded (subtotal, tax, total) per line, by WAREHOUSE.md's money rules.

    subtotal = quantity x unit_amount - discount_amount; tax = subtotal x effective rate / 100 (a None
    rate means no tax); total = subtotal + tax. Subtotal and tax are each rounded half-up to the line's
    currency; the total is the sum of the two rounded figures, so a document's lines always add up.
    """
    exps = _EXPONENTS
    units = _MINOR_UNITS
    hundred = Decimal(100)
    zero = Decimal(0)
    subtotals: list[Decimal] = []
    taxes: list[Decimal] = []
    totals: list[Decimal] = []
    zeros = {n: zero.quantize(e) for n, e in exps.items()}
    with localcontext(MONEY_CONTEXT):
        for q, u, d, r, c in zip(quantities, unit_amounts, discounts, tax_rates, currencies, strict=True):
            n = units.get(c, DEFAULT_MINOR_UNITS)
            e = exps[n]
            # "or zeros[n]" turns a rounded -0.00 into 0.00: same value, and no "-0" in any output.
            sub = (q * u - d).quantize(e, rounding=ROUND_HALF_UP) or zeros[n]
            tax = zeros[n] if r is None else (sub * r / hundred).quantize(e, rounding=ROUND_HALF_UP) or zeros[n]
            subtotals.append(sub)
            taxes.append(tax)
            totals.append(sub + tax)
    return subtotals, taxes, totals


def sum_amounts(values: Iterable[Decimal]) -> Decimal:
    """Exact sum of Decimals (context precision high enough never to round)."""
    total = Decimal(0)
    with localcontext(MONEY_CONTEXT):
        for v in values:
            total += v
    return total
