"""The Codat query language: parse a ``query=`` string once, then test records against it.

Grammar (CONTRACT §6 and the readings of §11.6)::

    expression := conjunction ("||" conjunction)*
    conjunction := term ("&&" term)*
    term       := "{" expression "}" | path operator value
    operator   := "=" | "!=" | "~" | ">" | "<" | ">=" | "<="

``&&`` binds tighter than ``||``; strings compare case-insensitively; a null or missing property
matches only ``!=``; a path that runs through an array is an error (HTTP 400).

    >>> matches = compile_query("status=submitted && totalAmount>100")
    >>> matches({"status": "Submitted", "totalAmount": 120})
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_QUERY_LENGTH = 2048
_OPERATORS = ("!=", ">=", "<=", "=", "~", ">", "<")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Array properties of Codat's data types: refused even when no record holds one yet.
ARRAY_PROPERTIES = frozenset({
    "lineItems", "lines", "links", "paymentAllocations", "addresses", "contacts", "phone",
    "validDatatypeLinks",
    "components", "changes", "withholdingTax", "salesOrderRefs", "trackingCategoryRefs", "dataConnections",
    "results", "products", "referenceSubsidiaryCompanies",
})

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    """A query the API refuses with HTTP 400 (malformed, too long, or through an array)."""


@dataclass(frozen=True)
class Comparison:
    """One ``path operator value`` test."""

    path: tuple[str, ...]
    operator: str
    value: str


@dataclass(frozen=True)
class Conjunction:
    """All of ``terms`` hold (``&&``)."""

    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Disjunction:
    """Any of ``terms`` holds (``||``)."""

    terms: tuple[Node, ...]


Node = Comparison | Conjunction | Disjunction


class _Parser:
    """Recursive-descent parser over the raw (already URL-decoded) query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Node:
        node = self._expression()
        self._skip_spaces()
        if self.pos != len(self.text):
            raise QueryError(f"unexpected text at position {self.pos}: {self.text[self.pos:self.pos + 20]!r}")
        return node

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _take(self, token: str) -> bool:
        self._skip_spaces()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def _expression(self) -> Node:
        terms = [self._conjunction()]
        while self._take("||"):
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else Disjunction(tuple(terms))

    def _conjunction(self) -> Node:
        terms = [self._term()]
        while self._take("&&"):
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else Conjunction(tuple(terms))

    def _term(self) -> Node:
        if self._take("{"):
            node = self._expression()
            if not self._take("}"):
                raise QueryError("missing '}'")
            return node
        self._skip_spaces()
        match = _PATH.match(self.text, self.pos)
        if not match:
            raise QueryError(f"expected a property name at position {self.pos}")
        self.pos = match.end()
        self._skip_spaces()
        for operator in _OPERATORS:
            if self.text.startswith(operator, self.pos):
                self.pos += len(operator)
                break
        else:
            raise QueryError(f"expected an operator after {match.group(0)!r}")
        path = tuple(match.group(0).split("."))
        if any(part in ARRAY_PROPERTIES for part in path):
            raise QueryError(f"'{match.group(0)}' goes through an array; arrays cannot be queried")
        return Comparison(path, operator, self._value())

    def _value(self) -> str:
        self._skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise QueryError("unterminated quoted value")
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
            return value
        start = self.pos
        while self.pos < len(self.text):
            if self.text.startswith(("&&", "||"), self.pos) or self.text[self.pos] in "{}":
                break
            self.pos += 1
        value = self.text[start:self.pos].strip()
        if not value:
            raise QueryError(f"missing value at position {start}")
        if value[0] in "=<>!~":
            raise QueryError(f"unexpected operator in value {value!r}; quote values that start with one")
        return value


def parse_query(text: str) -> Node:
    """Parse ``text`` into a tree of comparisons; raises :class:`QueryError` when malformed."""
    if len(text) >= MAX_QUERY_LENGTH:
        raise QueryError(f"query must be shorter than {MAX_QUERY_LENGTH} characters")
    if not text.strip():
        raise QueryError("empty query")
    return _Parser(text).parse()


def _parse_datetime(text: str) -> datetime | None:
    if not _DATE_LIKE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_MISSING = object()


def resolve_path(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path, ``None`` when absent; raises :class:`QueryError` through arrays."""
    value: Any = record
    for part in path:
        if isinstance(value, list):
            raise QueryError(f"'{'.'.join(path)}' goes through an array; arrays cannot be queried")
        if not isinstance(value, dict):
            return None
        value = value.get(part)
        if value is None:
            return None
    if isinstance(value, list | dict):
        raise QueryError(f"'{'.'.join(path)}' is not a simple property and cannot be queried")
    return value


def _ordered(operator: str, left: Any, right: Any) -> bool:
    if operator == ">":
        return left > right
    if operator == "<":
        return left < right
    if operator == ">=":
        return left >= right
    return left <= right


def _server_time_key(moment: datetime | None) -> str | None:
    """``moment`` as the sandbox writes times, minus the ``Z``; ``None`` if it has sub-millisecond parts."""
    if moment is None or moment.microsecond % 1000:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def _is_server_time(text: str) -> bool:
    return len(text) == 24 and text[23] == "Z" and text[19] == "." and text[10] == "T"


def _compile_comparison(node: Comparison) -> Predicate:
    path, operator, literal = node.path, node.operator, node.value
    folded = literal.casefold()
    as_number = _parse_number(literal)
    as_date = _parse_datetime(literal)
    # Fixed-width UTC strings compare chronologically as text: no parsing on the hot path.
    as_time_key = _server_time_key(as_date)
    as_bool = {"true": True, "false": False}.get(folded)

    field = path[0] if len(path) == 1 else None

    def test(record: dict[str, Any]) -> bool:
        if field is not None:  # top-level property: skip the general path walk
            actual = record.get(field)
            if isinstance(actual, list | dict):
                actual = resolve_path(record, path)
        else:
            actual = resolve_path(record, path)
        if actual is None:
            return operator == "!="
        if isinstance(actual, bool):
            if operator in ("=", "!="):
                return (actual == as_bool) == (operator == "=")
            return False
        if isinstance(actual, int | float):
            if operator == "~":
                return folded in str(actual)
            if as_number is None:
                return operator == "!="
            if operator in ("=", "!="):
                return (actual == as_number) == (operator == "=")
            return _ordered(operator, actual, as_number)
        text = str(actual)
        if as_time_key is not None and operator != "~" and _is_server_time(text):
            key = text[:23]
            if operator in ("=", "!="):
                return (key == as_time_key) == (operator == "=")
            return _ordered(operator, key, as_time_key)
        if as_date is not None and operator != "~":
            actual_date = _parse_datetime(text)
            if actual_date is not None:
                if operator in ("=", "!="):
                    return (actual_date == as_date) == (operator == "=")
                return _ordered(operator, actual_date, as_date)
        actual_folded = text.casefold()
        if operator == "=":
            return actual_folded == folded
        if operator == "!=":
            return actual_folded != folded
        if operator == "~":
            return folded in actual_folded
        return _ordered(operator, actual_folded, folded)

    return test


def _compile(node: Node) -> Predicate:
    if isinstance(node, Comparison):
        return _compile_comparison(node)
    parts = [_compile(term) for term in node.terms]
    if isinstance(node, Conjunction):
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


def compile_query(text: str) -> Predicate:
    """A predicate for ``text``; evaluating it may raise :class:`QueryError` (array paths)."""
    return _compile(parse_query(text))


def filter_records(records: Iterable[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
    """The records that match ``query`` (all of them when it is empty)."""
    if not query:
        return list(records)
    predicate = compile_query(query)
    return [record for record in records if predicate(record)]


def parse_order_by(order_by: str) -> tuple[tuple[str, ...], bool]:
    """``-modifiedDate`` → (("modifiedDate",), descending=True)."""
    text = order_by.strip()
    descending = text.startswith("-")
    name = text.lstrip("-+").strip()
    if not _PATH.fullmatch(name):
        raise QueryError(f"cannot order by {order_by!r}")
    return tuple(name.split(".")), descending


def sort_records(records: list[dict[str, Any]], order_by: str | None) -> list[dict[str, Any]]:
    """Records sorted by one property; missing values sort last whatever the direction."""
    if not order_by:
        return records
    path, descending = parse_order_by(order_by)

    def key(record: dict[str, Any]) -> tuple[int, Any]:
        value = resolve_path(record, path)
        if value is None:
            return (1, 0)
        if isinstance(value, str):
            return (0, value.casefold())
        return (0, value)

    present = [r for r in records if resolve_path(r, path) is not None]
    missing = [r for r in records if resolve_path(r, path) is None]
    try:
        present.sort(key=key, reverse=descending)
    except TypeError as exc:
        raise QueryError(f"cannot order by {order_by!r}: mixed value types") from exc
    return present + missing
