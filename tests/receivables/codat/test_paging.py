"""The paginator: stops exactly at the last page whatever the API tells it."""

from __future__ import annotations

from tests.receivables.codat.fakes import envelope

from receivables.codat.paging import PageNumberPaginator


def walk(pages: dict[int, dict], page_size: int) -> tuple[list, list[int]]:
    pager = PageNumberPaginator(page_size)
    seen, asked = [], []
    while pager.has_next:
        params = pager.update_request({"query": "x=1", "orderBy": None})
        assert params["pageSize"] == page_size and "orderBy" not in params
        asked.append(params["page"])
        seen.extend(pager.update_state(pages[params["page"]]))
    return seen, asked


def test_follows_next_links_until_they_stop():
    pages = {1: envelope([1, 2], 1, 2, 5), 2: envelope([3, 4], 2, 2, 5), 3: envelope([5], 3, 2, 5)}
    assert walk(pages, 2) == ([1, 2, 3, 4, 5], [1, 2, 3])


def test_uses_total_results_when_there_are_no_links():
    pages = {p: envelope(list(range(p * 10, p * 10 + 2)), p, 2, 6, next_link=False) for p in (1, 2, 3)}
    for page in pages.values():
        page.pop("_links")
    assert walk(pages, 2)[1] == [1, 2, 3]


def test_an_empty_page_ends_the_walk_even_if_totals_disagree():
    pages = {1: envelope([1, 2], 1, 2, 99), 2: envelope([], 2, 2, 99, next_link=True)}
    assert walk(pages, 2) == ([1, 2], [1, 2])


def test_next_link_page_number_is_respected():
    first = envelope([1], 1, 1, 3)
    first["_links"]["next"]["href"] = "/x?pageSize=1&page=3"
    pages = {1: first, 3: envelope([3], 3, 1, 3)}
    assert walk(pages, 1) == ([1, 3], [1, 3])
