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
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from receivables.objects import SharedObjects

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
        [from_minor(a, c) for a, c in zip(amounts, currencies, strict=True)], index=amounts.index,
        dtype=object,
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
            tax = zeros[n] if r is None else (
                (sub * r / hundred).quantize(e, rounding=ROUND_HALF_UP) or zeros[n])
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


# --- whole columns as int64 minor units -----------------------------------------------------------
#
# The same rules as above, for a night's worth of lines at once: an amount is an int64 ``mantissa``
# with ``places`` decimals (12.50 -> 1250, 2), products and rescalings stay in integers, and the one
# rounding (half-up, ties away from zero) is an integer division with its remainder. Nothing goes
# through a float. Whatever does not fit int64 on the way is marked not ``exact`` and computed with
# Decimal instead, so the result is the same as the scalar rules for every value.

_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_INT64_MAX = np.iinfo(np.int64).max
_TEXT = pa.large_string()  # 64-bit offsets: a night's JSON text can pass 2 GiB


_NULL_TEXTS = pa.array(["None", "<NA>", "nan", "NaT"], _TEXT)


def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


@dataclass(frozen=True)
class ScaledColumn:
    """A column of exact decimals as ``mantissa x 10**-places`` (int64 each); ``exact`` False where the
    value did not fit (more than 18 digits, exponent notation, null): those rows need the Decimal path."""

    mantissa: np.ndarray
    places: np.ndarray
    exact: np.ndarray

    def take(self, rows: np.ndarray) -> ScaledColumn:
        return ScaledColumn(self.mantissa[rows], self.places[rows], self.exact[rows])


def minor_units_array(currencies: Iterable[str]) -> np.ndarray:
    """Minor units per row as int64 (2 unless ISO 4217 says otherwise).

    >>> minor_units_array(["GBP", "JPY", "BHD"]).tolist()
    [2, 0, 3]
    """
    codes, uniques = pd.factorize(pd.Series(list(currencies), dtype=object), use_na_sentinel=False)
    table = np.array([_MINOR_UNITS.get(c, DEFAULT_MINOR_UNITS) for c in uniques], dtype=np.int64)
    return table[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def scaled_from_text(text: pa.Array) -> ScaledColumn:
    """Plain decimal text (``-12.50``, ``3``, ``0.0050``; nulls allowed) as a :class:`ScaledColumn`.

    >>> s = scaled_from_text(pa.array(["-12.50", "3", "0.0050", "1E+3", None, "-0.5"]))
    >>> s.mantissa.tolist(), s.places.tolist(), s.exact.tolist()
    ([-1250, 3, 50, 0, 0, -5], [2, 0, 4, 0, 0, 1], [True, True, True, False, False, True])
    """
    text = text.cast(_TEXT) if text.type != _TEXT else text
    dot = pc.fill_null(pc.find_substring(text, "."), -1).to_numpy(zero_copy_only=False)
    length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    # "-12.50" -> "-1250": Arrow reads the sign.
    digits = pc.replace_substring(text, ".", "", max_replacements=1)
    exact = pc.and_(pc.ascii_is_decimal(pc.utf8_ltrim(digits, "-")),
                    pc.less_equal(pc.utf8_length(digits), 18))
    exact = pc.fill_null(exact, False).to_numpy(zero_copy_only=False)
    try:
        digits = pc.if_else(pa.array(exact), digits, _text("0"))
        mantissa = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # text no Decimal writes (say "--5"): leave every row to the Decimal path
        exact[:] = False
        mantissa = np.zeros(len(text), dtype=np.int64)
    places = np.where(dot < 0, 0, length - dot - 1).astype(np.int64)
    return ScaledColumn(np.where(exact, mantissa, 0), np.where(exact, places, 0), exact)


# The bytes of plain decimal text: what str() of a finite Decimal in plain notation is made of.
_PLAIN_BYTES = np.zeros(256, dtype=bool)
_PLAIN_BYTES[list(b"0123456789.-")] = True


def _plain_scaled(text: pa.Array) -> ScaledColumn | None:
    """:func:`scaled_from_text` in three Arrow passes for the usual column, whose every value is plain
    decimal text: no null, no exponent, no ``-0`` (whose text is rewritten). None for any other column,
    which then takes the careful path; the result is the same where both apply.

    >>> _plain_scaled(pa.array(["-12.50", "3"], _TEXT)).mantissa.tolist(), _plain_scaled(pa.array(["1E+3"]))
    ([-1250, 3], None)
    """
    if len(text) == 0 or text.null_count or text.type != _TEXT:
        return None
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    raw = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    if not _PLAIN_BYTES[raw].all():
        return None
    try:  # "-12.50" -> "-1250": Arrow reads the sign, and refuses anything but one number
        mantissa = pc.cast(pc.replace_substring(text, ".", "", max_replacements=1), pa.int64())
    except pa.ArrowInvalid:
        return None
    mantissa = mantissa.to_numpy(zero_copy_only=False)
    zero = np.flatnonzero(mantissa == 0)
    if len(zero) and (raw[offsets[zero] - offsets[0]] == ord("-")).any():
        return None
    dot = pc.find_substring(text, ".").to_numpy(zero_copy_only=False).astype(np.int64)
    length = np.diff(offsets)
    exact = length - (dot >= 0) <= 18  # as scaled_from_text: at most 18 characters of digits and sign
    places = np.where(dot < 0, 0, length - dot - 1)
    return ScaledColumn(np.where(exact, mantissa, 0), np.where(exact, places, 0), exact)


def plain_text(value: Decimal) -> str:
    """A finite Decimal in plain notation with the decimals it was written with (``-0.00`` -> ``0.00``).

    >>> plain_text(Decimal("1E+3")), plain_text(Decimal("-0.00")), plain_text(Decimal("10.4450"))
    ('1000', '0.00', '10.4450')
    """
    if not value.is_finite():
        raise ValueError(f"cannot send a non-finite amount: {value}")
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def decimal_column(values: Sequence) -> tuple[pa.Array, ScaledColumn]:
    """Decimals (or ints; None/NA for null) as :func:`plain_text` per value and as a :class:`ScaledColumn`.

    One ``str`` per value (per distinct object, where rows share them) is the only per-row Python; the
    text is parsed column-wise. Exponent notation, ``-0`` and over-long values are redone one by one.

    >>> text, scaled = decimal_column([Decimal("2.50"), Decimal("-0"), Decimal("1E+2"), None])
    >>> text.to_pylist(), scaled.mantissa.tolist(), scaled.exact.tolist()
    (['2.50', '0', '100', None], [250, 0, 100, 0], [True, True, True, False])
    """
    values = np.asarray(values, dtype=object)
    shared = SharedObjects.worth_it(values)
    if shared is not None:  # the warehouse read's one object per distinct amount: each read once
        text, scaled = _decimal_column(shared.distinct)
        return text.take(pa.array(shared.codes)), scaled.take(shared.codes)
    return _decimal_column(values)


def _decimal_column(values: np.ndarray) -> tuple[pa.Array, ScaledColumn]:
    texts = list(map(str, values))
    text = pa.array(texts, _TEXT)
    plain = _plain_scaled(text)
    if plain is not None:
        return text, plain
    # The text of every NULL flavour (faster than pd.isna over objects); Decimal's own NaN is "NaN".
    null = pc.is_in(text, value_set=_NULL_TEXTS).to_numpy(zero_copy_only=False)
    if null.any():
        flagged = np.flatnonzero(null)
        null[flagged] = [_is_null(values[i]) for i in flagged]
        text = pc.if_else(pa.array(null), pa.nulls(len(text), _TEXT), text)
    scaled = scaled_from_text(text)
    minus = pc.fill_null(pc.starts_with(text, "-"), False).to_numpy(zero_copy_only=False)
    negative_zero = scaled.exact & (scaled.mantissa == 0) & minus
    redo = np.flatnonzero((~scaled.exact & ~null) | negative_zero)
    if len(redo):
        for i in redo:
            texts[i] = plain_text(as_decimal(values[i]))
        text = pa.array(texts, _TEXT, mask=null)
        again = scaled_from_text(pa.array([texts[i] for i in redo], _TEXT))
        for field in ("mantissa", "places", "exact"):
            getattr(scaled, field)[redo] = getattr(again, field)
    return text, scaled


# Amounts that are only ever rounded (discounts, payments, allocations, fees) need no text of their own:
# Arrow's C++ conversion reads the Decimal objects at this fixed scale, which holds every amount the
# warehouse's NUMERIC inputs carry in practice (<= 4 decimals, < 10**14). A column with anything else (more
# decimals or digits, a float, a Decimal NaN or infinity) is refused by Arrow as a whole and takes
# :func:`decimal_column`'s text path instead, so the result is the same for every value.
_FIXED_SCALE = 4
_FIXED_DECIMAL = pa.decimal128(18, _FIXED_SCALE)


def scaled_column(values: Sequence) -> ScaledColumn:
    """Decimals (or ints; None/NA for null) as a :class:`ScaledColumn`, without making their text.

    >>> s = scaled_column([Decimal("2.50"), None, Decimal("-1E+3")])
    >>> s.mantissa.tolist(), s.places.tolist(), s.exact.tolist()
    ([25000, 0, -10000000], [4, 0, 4], [True, False, True])
    >>> scaled_column([Decimal("0.00001"), Decimal("2.5")]).mantissa.tolist()  # beyond the scale: by text
    [1, 25]
    """
    return _scaled_and_null(np.asarray(values, dtype=object))[0]


def _scaled_and_null(values: np.ndarray) -> tuple[ScaledColumn, np.ndarray]:
    """:func:`scaled_column` and where the value is null (any NULL flavour)."""
    shared = SharedObjects.worth_it(values)
    if shared is not None:
        scaled, null = _scaled_and_null_each(shared.distinct)
        return scaled.take(shared.codes), null[shared.codes]
    return _scaled_and_null_each(values)


def _scaled_and_null_each(values: np.ndarray) -> tuple[ScaledColumn, np.ndarray]:
    fixed = _fixed_scale(values)
    if fixed is not None:
        return fixed, ~fixed.exact
    text, scaled = _decimal_column(values)
    return scaled, ~text.is_valid().to_numpy(zero_copy_only=False)


def _fixed_scale(values: np.ndarray) -> ScaledColumn | None:
    """The column at :data:`_FIXED_SCALE` by Arrow's conversion, or None where Arrow refuses a value."""
    try:
        fixed = pa.array(values, _FIXED_DECIMAL, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    valid = fixed.is_valid().to_numpy(zero_copy_only=False)
    # Arrow reads a Decimal NaN as null: only a real NULL may be one.
    if not valid.all() and not all(_is_null(values[i]) for i in np.flatnonzero(~valid)):
        return None
    if len(fixed) == 0:
        return ScaledColumn(*(np.zeros(0, dtype=t) for t in (np.int64, np.int64, bool)))
    # decimal128 is two little-endian int64 words per value; 18 digits always fit the low one.
    low = np.frombuffer(fixed.buffers()[1], dtype=np.int64, count=2 * len(fixed))[0::2]
    return ScaledColumn(np.where(valid, low, 0), np.where(valid, _FIXED_SCALE, 0), valid)


def to_minor_column(values: Sequence, currencies: Sequence[str], minor: np.ndarray | None = None
                    ) -> np.ndarray:
    """:func:`to_minor` for a whole column, as int64 (a null counts as 0).

    >>> to_minor_column([Decimal("12.345"), Decimal("1500.5"), Decimal("-0.0005"), None],
    ...                 ["GBP", "JPY", "BHD", "GBP"]).tolist()
    [1235, 1501, -1, 0]
    >>> to_minor_column([Decimal("0.125"), Decimal("1E-5")], ["GBP", "GBP"]).tolist()  # by text
    [13, 0]
    """
    values = np.asarray(values, dtype=object)
    minor = minor_units_array(currencies) if minor is None else minor
    scaled, null = _scaled_and_null(values)
    amounts, ok = round_scaled_half_up(scaled.mantissa, scaled.places, minor)
    redo = np.flatnonzero(~(ok & scaled.exact) & ~null)
    if len(redo):
        currencies = list(currencies) if not isinstance(currencies, (list, np.ndarray)) else currencies
        try:
            amounts[redo] = [to_minor(as_decimal(values[i]), currencies[i]) for i in redo]
        except OverflowError:
            raise ValueError("an amount is beyond 9.2e18 minor units; no real document has one") from None
    return amounts


def rescale_exact(mantissa: np.ndarray, places: np.ndarray, to_places: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``mantissa`` at ``places`` rewritten at ``to_places`` >= places (no rounding); and where it fit int64.

    >>> rescale_exact(np.array([125, 7]), np.array([2, 0]), np.array([4, 2]))[0].tolist()
    [12500, 700]
    """
    up = np.asarray(to_places - places, dtype=np.int64)
    fits = (up >= 0) & (up <= 18)
    factor = _POW10[np.clip(up, 0, 18)]
    fits &= np.abs(mantissa) <= _INT64_MAX // factor
    return np.where(fits, mantissa * np.where(fits, factor, 1), 0), fits


def round_scaled_half_up(mantissa: np.ndarray, places: np.ndarray, to_places: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``mantissa x 10**-places`` rounded half-up (ties away from zero) to ``to_places`` decimals, as an
    int64 mantissa at ``to_places``; and where that was exact in int64 (elsewhere use Decimal).

    >>> m, ok = round_scaled_half_up(np.array([2675, -5, 15005, 7]), np.array([3, 3, 1, 0]),
    ...                               np.array([2, 2, 0, 2]))
    >>> m.tolist(), ok.tolist()
    ([268, -1, 1501, 700], [True, True, True, True])
    """
    mantissa = np.asarray(mantissa, dtype=np.int64)
    down = np.asarray(places - to_places, dtype=np.int64)
    raised, fits = rescale_exact(mantissa, places, np.maximum(places, to_places))
    fits &= down <= 18
    divisor = _POW10[np.clip(down, 0, 18)]
    magnitude = np.abs(raised)
    quotient = magnitude // divisor
    remainder = magnitude - quotient * divisor
    # Half-up on the magnitude is "ties away from zero" on the signed value. remainder < divisor <= 10**18,
    # so doubling it cannot overflow.
    quotient += (down > 0) & (2 * remainder >= divisor)
    return np.where(fits, np.where(raised < 0, -quotient, quotient), 0), fits


def line_minor_amounts(
    quantities: ScaledColumn,
    unit_amounts: ScaledColumn,
    discounts_minor: np.ndarray,
    tax_rates: ScaledColumn,
    has_rate: np.ndarray,
    minor: np.ndarray,
    decimals: tuple[Sequence, Sequence, Sequence, Sequence[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`line_amounts` for whole columns: (subtotal, tax) per line in int64 minor units.

    ``discounts_minor`` are the already rounded discounts in minor units, ``minor`` the currency's minor
    units per line; ``decimals`` the same lines as Decimals (quantity, unit amount, rate or None,
    currency), used for the rows whose figures do not fit int64 on the way. The total of a line is
    subtotal + tax (the caller adds them).

    >>> q, u = scaled_from_text(pa.array(["3", "1"])), scaled_from_text(pa.array(["0.335", "10"]))
    >>> r = scaled_from_text(pa.array(["20", None]))
    >>> sub, tax = line_minor_amounts(q, u, np.array([0, 50]), r, np.array([True, False]), np.array([2, 2]),
    ...                               ([], [], [], []))
    >>> sub.tolist(), tax.tolist()
    ([101, 950], [20, 0])
    """
    has_rate = np.asarray(has_rate, dtype=bool)
    minor = np.asarray(minor, dtype=np.int64)
    # quantity x unit amount, exactly, at the sum of their places.
    qm, um = quantities.mantissa, unit_amounts.mantissa
    ok = quantities.exact & unit_amounts.exact
    ok &= np.abs(qm) <= _INT64_MAX // np.maximum(np.abs(um), 1)
    product = np.where(ok, qm * np.where(ok, um, 0), 0)
    product_places = quantities.places + unit_amounts.places
    # minus the discount, both at the finer of the two scales, then the one rounding to minor units.
    common = np.maximum(product_places, minor)
    product, fits_p = rescale_exact(product, product_places, common)
    discount, fits_d = rescale_exact(np.asarray(discounts_minor, dtype=np.int64), minor, common)
    ok &= fits_p & fits_d & (np.abs(product) < 2**62) & (np.abs(discount) < 2**62)
    sub, fits = round_scaled_half_up(np.where(ok, product - discount, 0), common, minor)
    ok &= fits
    # tax = subtotal x rate / 100: the exact quotient sub x mantissa / 10**(places + 2), rounded once.
    rm = np.where(has_rate, tax_rates.mantissa, 0)
    ok &= ~has_rate | tax_rates.exact
    ok &= np.abs(sub) <= _INT64_MAX // np.maximum(np.abs(rm), 1)
    tax, fits = round_scaled_half_up(np.where(ok, sub * rm, 0), tax_rates.places + 2, np.zeros_like(minor))
    ok &= fits
    tax = np.where(has_rate, tax, 0)
    redo = np.flatnonzero(~ok)
    if len(redo):
        q, u, r, c = decimals
        d = [from_minor(int(discounts_minor[i]), c[i]) for i in redo]
        subs, taxes, _ = line_amounts([as_decimal(q[i]) for i in redo], [as_decimal(u[i]) for i in redo], d,
                                      [r[i] for i in redo], [c[i] for i in redo])
        subs = [to_minor(x, c[i]) for x, i in zip(subs, redo, strict=True)]
        taxes = [to_minor(x, c[i]) for x, i in zip(taxes, redo, strict=True)]
        if max(map(abs, subs + taxes)) > _INT64_MAX // 2:
            # Beyond int64 (validated inputs allow a 1e14 x 1e14 line): Python ints from here on, slower
            # but exact.
            sub, tax = sub.astype(object), tax.astype(object)
        sub[redo], tax[redo] = subs, taxes
    return sub, tax


def minor_text(amounts: np.ndarray, minor: np.ndarray) -> pa.Array:
    """JSON number text of int64 minor units with the currency's decimals (``1250, 2 -> 12.50``; no ``-0``).

    >>> minor_text(np.array([1250, -5, 0, 1501, 12345, -10**18]), np.array([2, 2, 2, 0, 3, 2])).to_pylist()
    ['12.50', '-0.05', '0.00', '1501', '12.345', '-10000000000000000.00']
    >>> minor_text(np.array([10**30, 7], dtype=object), np.array([2, 0])).to_pylist()  # beyond int64
    ['10000000000000000000000000000.00', '7']
    """
    return MinorText(minor)(amounts)


class MinorText:
    """:func:`minor_text` for several amount columns of the same rows (the rows' precisions sorted once).

    >>> as_text = MinorText(np.array([2, 0]))
    >>> as_text(np.array([5, 5])).to_pylist(), as_text(np.array([-1234, 0])).to_pylist()
    (['0.05', '5'], ['-12.34', '0'])
    """

    def __init__(self, minor: np.ndarray) -> None:
        self.minor = np.asarray(minor, dtype=np.int64)
        self.scales = np.unique(self.minor)
        if len(self.scales) > 1:
            # One cast per currency precision, then the rows put back in their order.
            self.order = np.argsort(self.minor, kind="stable")
            starts = np.searchsorted(self.minor[self.order], self.scales)
            self.slices = list(zip(self.scales.tolist(), starts, [*starts[1:], len(self.order)], strict=True))
            inverse = np.empty_like(self.order)
            inverse[self.order] = np.arange(len(self.order))
            self.inverse = pa.array(inverse)

    def __call__(self, amounts: np.ndarray) -> pa.Array:
        if amounts.dtype == object or (len(amounts) and np.abs(amounts).max() >= 10**18):
            return _minor_text_python(amounts, self.minor)  # beyond decimal64's 18 digits: rare, one by one
        amounts = np.asarray(amounts, dtype=np.int64)
        if len(self.scales) <= 1:
            return _decimal64_text(amounts, int(self.scales[0]) if len(self.scales) else 2)
        ordered = amounts[self.order]
        parts = [_decimal64_text(ordered[lo:hi], n) for n, lo, hi in self.slices]
        return pa.concat_arrays(parts).take(self.inverse)


def _decimal64_text(amounts: np.ndarray, places: int) -> pa.Array:
    """Arrow's own decimal-to-text cast of the int64 mantissas read as decimal64(18, places)."""
    buffer = pa.py_buffer(np.ascontiguousarray(amounts, dtype=np.int64))
    as_decimal = pa.Array.from_buffers(pa.decimal64(18, places), len(amounts), [None, buffer])
    return pc.cast(as_decimal, _TEXT)


def _minor_text_python(amounts: np.ndarray, minor: np.ndarray) -> pa.Array:
    return pa.array([format(Decimal(int(a)).scaleb(-int(n), context=MONEY_CONTEXT), "f")
                     for a, n in zip(amounts, minor, strict=True)], _TEXT)
