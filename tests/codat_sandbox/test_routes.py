"""The API's routes are tried in order (pushes first, for speed): that is safe only while no request path
can match two routes."""

from __future__ import annotations

import itertools

from codat_sandbox.app import Sandbox
from codat_sandbox.store import Store


def _could_both_match(one: str, other: str) -> bool:
    a, b = one.strip("/").split("/"), other.strip("/").split("/")
    if len(a) != len(b):
        return False
    return all(x == y or x.startswith("{") or y.startswith("{") for x, y in zip(a, b, strict=True))


def test_no_two_api_paths_overlap_so_route_order_decides_nothing():
    routes = [r for r in Sandbox(Store(None), api_key="k").routes() if not r.path.startswith("/admin")]
    overlapping = [(a.path, b.path) for a, b in itertools.combinations(routes, 2)
                   if _could_both_match(a.path, b.path)]
    assert overlapping == []
    assert len({r.path for r in routes}) == len(routes)


def test_the_push_routes_come_first():
    paths = [r.path for r in Sandbox(Store(None), api_key="k").routes()]
    assert all("/push/" in p for p in paths[:5]), paths[:5]
