"""Column types that keep money exact on both warehouse dialects.

PostgreSQL ``NUMERIC`` is exact and psycopg2 returns ``Decimal``: nothing to do. SQLite has no decimal
type: a ``NUMERIC`` column stores a binary REAL whenever the value looks like a number, so:

- :class:`Money` (output tables, which we create) stores the ``Decimal``'s text on SQLite in a TEXT
  column, which round-trips every digit; it is ``NUMERIC`` on PostgreSQL.
- :class:`InputNumeric` (input tables, created by the data team as ``NUMERIC``) reads whatever SQLite
  stored: a REAL comes back as the decimal with at most 15 significant digits that it stands for
  (``Decimal(format(value, ".15g"))``). Every decimal of 15 significant digits or fewer survives a trip
  through a double exactly, so money typed as such by the data team reads back exactly; a value with more
  digits than that was already rounded by SQLite when it was stored. Values SQLite kept as TEXT or
  INTEGER are read back as they are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


def to_decimal(value: Any) -> Decimal | None:
    """One stored value (Decimal, int, float, str or None) as an exact ``Decimal``; None stays None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value:  # NaN: pandas' missing value
            return None
        return Decimal(format(value, ".15g"))
    text = str(value).strip()
    return Decimal(text) if text else None


class _ExactDecimal(TypeDecorator):
    """What :class:`Money` and :class:`InputNumeric` share: a ``Decimal`` is bound as such on PostgreSQL
    and as its text on SQLite, and whatever was stored reads back through :func:`to_decimal`."""

    impl = sa.Numeric
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        amount = to_decimal(value)
        if amount is None:
            return None
        # On SQLite a TEXT column keeps every digit; a NUMERIC one turns the text into INTEGER/REAL itself
        # (NUMERIC affinity), keeping TEXT when it cannot.
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        return to_decimal(value)


class Money(_ExactDecimal):
    """An exact decimal column of an output table: NUMERIC on PostgreSQL, decimal text on SQLite."""

    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))


class InputNumeric(_ExactDecimal):
    """A NUMERIC column of an input table, read back as exact ``Decimal`` on both dialects."""

    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        # asdecimal=False on SQLite: hand us the raw REAL/INTEGER/TEXT, we convert it ourselves.
        return dialect.type_descriptor(sa.Numeric(asdecimal=dialect.name != "sqlite"))
