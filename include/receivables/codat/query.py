"""A small builder for Codat's query language (CONTRACT §6) that quotes values safely.

    >>> str(Q("modifiedDate") >= datetime(2024, 1, 1, tzinfo=UTC))
    'modifiedDate>=2024-01-01T00:00:00Z'
    >>> str(Q.all(Q("status") != "Void", Q.any(Q("currency") == "GBP", Q("currency") == "EUR")))
    'status!=Void&&{currency=GBP||currency=EUR}'
    >>> print(Q("customerRef.companyName") == "Smith & Sons")
    customerRef.companyName="Smith & Sons"

``str(q)`` is the raw query (httpx URL-encodes it as a parameter); :meth:`Expr.encoded` gives the
percent-encoded form for building URLs by hand.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

MAX_QUERY_LENGTH = 2048
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Plain values may contain only these; anything else (spaces, quotes, &, |, braces, operators) is quoted.
_PLAIN = re.compile(r"^[A-Za-z0-9_.:+\-/@]+$")


def format_value(value: object) -> str:
    """Render one value as the query language expects (dates in ISO 8601, UTC with ``Z``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
            text = value.isoformat(timespec="seconds" if not value.microsecond else "milliseconds") + "Z"
        else:
            text = value.isoformat(timespec="seconds" if not value.microsecond else "milliseconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, (int, Decimal, float)):
        text = str(value)
    elif hasattr(value, "value") and isinstance(value.value, str):  # str Enums
        text = value.value
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(f"cannot put a {type(value).__name__} in a Codat query")
    if text and _PLAIN.match(text):
        return text
    # The language has no escape character: a quoted value ends at the next matching quote.
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    raise ValueError(f"a query value cannot contain both kinds of quote: {text!r}")


class Expr:
    """A query expression; combine with ``&`` / ``|`` or :meth:`Q.all` / :meth:`Q.any`."""

    def render(self, nested: bool = False) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        text = self.render()
        if len(text) >= MAX_QUERY_LENGTH:
            raise ValueError(f"the query is {len(text)} characters; Codat accepts fewer than "
                             f"{MAX_QUERY_LENGTH}")
        return text

    def encoded(self) -> str:
        """The query percent-encoded for a URL (``>=`` → ``%3E%3D``)."""
        return quote(str(self), safe="")

    def __and__(self, other: Expr) -> Expr:
        return Group("&&", (self, other))

    def __or__(self, other: Expr) -> Expr:
        return Group("||", (self, other))

    def __repr__(self) -> str:
        return f"Q<{self.render()}>"


class Condition(Expr):
    """``property <op> value``."""

    def __init__(self, prop: str, op: str, value: object) -> None:
        self.prop, self.op, self.value = prop, op, value

    def render(self, nested: bool = False) -> str:
        return f"{self.prop}{self.op}{format_value(self.value)}"


class Raw(Expr):
    """An already-written query string, kept as is (grouped in braces when combined)."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()

    def render(self, nested: bool = False) -> str:
        return f"{{{self.text}}}" if nested and ("&&" in self.text or "||" in self.text) else self.text


class Group(Expr):
    """Several expressions joined by ``&&`` or ``||``."""

    def __init__(self, op: str, parts: tuple[Expr, ...]) -> None:
        flat: list[Expr] = []
        for part in parts:
            if isinstance(part, Group) and part.op == op:
                flat.extend(part.parts)
            else:
                flat.append(part)
        self.op, self.parts = op, tuple(flat)

    def render(self, nested: bool = False) -> str:
        text = self.op.join(p.render(nested=True) for p in self.parts)
        return f"{{{text}}}" if nested and len(self.parts) > 1 else text


class Q:
    """Start a condition on a (dotted) property: ``Q("customerRef.id") == "C-1"``."""

    def __init__(self, prop: str) -> None:
        if not _PROPERTY.match(prop):
            raise ValueError(f"not a property name: {prop!r}")
        self.prop = prop

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return Condition(self.prop, "=", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return Condition(self.prop, "!=", value)

    def __gt__(self, value: object) -> Condition:
        return Condition(self.prop, ">", value)

    def __ge__(self, value: object) -> Condition:
        return Condition(self.prop, ">=", value)

    def __lt__(self, value: object) -> Condition:
        return Condition(self.prop, "<", value)

    def __le__(self, value: object) -> Condition:
        return Condition(self.prop, "<=", value)

    __hash__ = None  # type: ignore[assignment]

    def contains(self, value: str) -> Condition:
        """Case-insensitive substring match (strings only)."""
        return Condition(self.prop, "~", value)

    @staticmethod
    def all(*parts: Expr | str | None) -> Expr:
        """All conditions must hold (``&&``); ``None`` parts are skipped."""
        return _join("&&", parts)

    @staticmethod
    def any(*parts: Expr | str | None) -> Expr:
        """At least one condition must hold (``||``); ``None`` parts are skipped."""
        return _join("||", parts)


def as_expr(query: Expr | str | None) -> Expr | None:
    """Accept a built expression or a raw query string."""
    if query is None or isinstance(query, Expr):
        return query
    return Raw(query) if query.strip() else None


def _join(op: str, parts: tuple[Expr | str | None, ...]) -> Expr:
    exprs = [e for e in (as_expr(p) for p in parts) if e is not None]
    if not exprs:
        raise ValueError("a query needs at least one condition")
    return exprs[0] if len(exprs) == 1 else Group(op, tuple(exprs))
