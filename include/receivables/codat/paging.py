"""Page-number paging over Codat's ``PagingInfo`` envelope (CONTRACT §1).

One object holds the paging state; the client asks it for the next page's parameters and feeds it each
response envelope, so paging lives here and nowhere else.

    >>> pager = PageNumberPaginator(page_size=500)
    >>> while pager.has_next:
    ...     params = pager.update_request({"query": q})
    ...     envelope = get(path, params)
    ...     yield from pager.update_state(envelope)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit


class PageNumberPaginator:
    """Walks ``page=1,2,…`` until ``_links.next`` is absent and ``page*pageSize >= totalResults``."""

    def __init__(self, page_size: int, start_page: int = 1) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.page = start_page
        self.has_next = True
        self.pages_read = 0

    def update_request(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The query parameters for the next page (``page`` and ``pageSize`` set, ``None`` values dropped)."""
        out = {k: v for k, v in (params or {}).items() if v is not None}
        out["page"] = self.page
        out["pageSize"] = self.page_size
        return out

    def update_state(self, envelope: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Record one response envelope; return its ``results`` and decide whether another page exists."""
        results = envelope.get("results") or []
        self.pages_read += 1
        page_number = _as_int(envelope.get("pageNumber")) or self.page
        page_size = _as_int(envelope.get("pageSize")) or self.page_size
        total = _as_int(envelope.get("totalResults"))
        has_link, next_page = _next_link(envelope.get("_links"))
        if next_page is not None and next_page <= page_number:
            next_page = None  # a link pointing backwards would loop forever
        if not results:
            self.has_next = False  # an empty page ends the walk even if counts disagree
        elif has_link:
            self.has_next = True
        elif total is not None:
            self.has_next = page_number * page_size < total
        else:
            self.has_next = len(results) >= page_size
        if self.has_next:
            self.page = next_page or page_number + 1
        return list(results)


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _next_link(links: Any) -> tuple[bool, int | None]:
    """Whether ``_links.next`` exists, and the page number it names (``None`` when it names none)."""
    if not isinstance(links, Mapping):
        return False, None
    nxt = links.get("next")
    href = nxt.get("href") if isinstance(nxt, Mapping) else None
    if not href:
        return False, None
    values = {k.lower(): v for k, v in parse_qs(urlsplit(href).query).items()}
    return True, _as_int((values.get("page") or [None])[0])
