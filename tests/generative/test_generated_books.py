"""Generative end-to-end tests: books of shapes nobody wrote by hand, through the real tasks, on both
warehouses.

Each example is a fresh company in one module-wide sandbox and warehouse. For every business day of the
scenario the real task functions run (``refresh_reference → sync_company → reconcile_company →
publish_report``, over HTTP, no Airflow), then the invariants a controller relies on are checked:

- every source document is in exactly one recorded state (ledger or rejects);
- every ledger ``platform_id`` exists in the platform;
- the report's source amount due is the platform's ``amountDue`` for every matched open invoice;
- no amount due is negative unless the source really allocated more than the total;
- a rerun of the day pushes nothing and leaves identical rows.

CI runs a bounded handful of examples of up to two days; ``RS_HYPOTHESIS_EXAMPLES=50 RS_HYPOTHESIS_DAYS=4``
runs more and longer ones (and ``RS_HYPOTHESIS_SHRINK=1`` shrinks a failure to its smallest form, slowly:
every step is a real run). ``--hypothesis-show-statistics`` shows which rules and outcomes were reached.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings

from tests.generative.books import open_books, problems, rerun_changes
from tests.generative.shapes import play, scenarios

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("RS_HYPOTHESIS_EXAMPLES", "5"))
# Two days are enough for "a later day edits an earlier one"; longer sequences cost a real run per day.
DAYS = int(os.environ.get("RS_HYPOTHESIS_DAYS", "2"))
PHASES = [Phase.explicit, Phase.reuse,
          Phase.generate] + ([Phase.shrink] if os.environ.get("RS_HYPOTHESIS_SHRINK")
                            else [])
_companies = itertools.count(1)


@settings(max_examples=EXAMPLES, deadline=None, phases=PHASES, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(scenario=scenarios(max_days=DAYS))
def test_generated_books_keep_every_invariant_day_after_day(gen_sandbox, gen_engine, tmp_path, namespace,
                                                            scenario):
    books = open_books(gen_sandbox, gen_engine, tmp_path, namespace=f"{namespace}-{next(_companies)}")
    for day, actions in scenario:
        play(books, day, actions)
        books.run_day(day)
        found = problems(books, day)
        assert not found, f"after {day} ({len(actions)} action(s)):\n" + "\n".join(found[:20])
        changed = rerun_changes(books, day)
        assert not changed, "\n".join(changed)
        _tell_what_was_exercised(books, day)
    event(f"{len(scenario)} day(s), first in {scenario[0][0].year}")


def _tell_what_was_exercised(books, day) -> None:
    """Statistics (``--hypothesis-show-statistics``): which rules and outcomes the examples reached."""
    for rule in set(books.table("ar_rejects", business_date=day)["rule"]):
        event(f"rejected: {rule}")
    for outcome in set(books.table("ar_reconciliation", report_date=day)["outcome"]):
        event(f"report: {outcome}")
    for status in set(books.table("ar_push_ledger")["status"]):
        event(f"ledger: {status}")
