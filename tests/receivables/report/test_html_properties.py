"""The report over generated nights: whatever the rows and company states, it never looks green after a
failure, lists every exception once, and never shows a programmer's placeholder."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from receivables.reconcile import EXCEPTION_OUTCOMES, ROW_COLUMNS, exception_ids, summarise
from receivables.report import render_html
from receivables.run_state import summarise_company

DAY = pd.Timestamp(date(2026, 3, 2))
COMPANIES = ["c1", "c2", "c3"]
STAGE_ROWS = {
    "success": [{"stage": s, "state": "success"} for s in ("reference", "sync", "reconcile")],
    "failed": [{"stage": "reference", "state": "success"},
               {"stage": "sync", "state": "failed", "error": "the API refused the key (401).",
                "advice": "Check it."}],
    "skipped": [],
    "running": [{"stage": "reference", "state": "running"}],
}

row = st.fixed_dictionaries({
    "company_id": st.sampled_from(COMPANIES),
    "document_type": st.sampled_from(["invoice", "credit_note", "payment", "customer"]),
    "outcome": st.sampled_from(["matched", *EXCEPTION_OUTCOMES]),
    "currency": st.sampled_from([None, "GBP", "JPY", "EUR"]),
    "source_total": st.one_of(st.none(), st.decimals(min_value=-10_000, max_value=10_000_000, places=2,
                                                     allow_nan=False)),
    "platform_total": st.one_of(st.none(), st.decimals(min_value=0, max_value=10_000_000, places=2,
                                                       allow_nan=False)),
    "document_number": st.one_of(st.none(), st.text("AB-0123456789", min_size=1, max_size=8)),
    "reason": st.one_of(st.none(), st.sampled_from(["currency_rate is None", "platform total none vs 1.00",
                                                    "push status pending"])),
    "days_overdue": st.one_of(st.none(), st.integers(-10, 200)),
})


def _frame(rows: list[dict]) -> pd.DataFrame:
    out = []
    for n, r in enumerate(rows):
        key = f"s{n}"
        difference = (r["platform_total"] - r["source_total"]
                      if r["platform_total"] is not None and r["source_total"] is not None else None)
        overdue = r["days_overdue"]
        open_invoice = r["document_type"] == "invoice" and overdue is not None and r["currency"] is not None
        out.append({**r, "report_date": DAY, "document_key": key, "source_id": key, "platform_id": None,
                    "source_amount_due": r["source_total"] if open_invoice else None,
                    "platform_amount_due": None,
                    "difference": difference, "due_date": DAY - pd.Timedelta(days=overdue or 0),
                    "days_overdue": overdue if open_invoice else None,
                    "aging_bucket": ("current" if (overdue or 0) <= 0 else "1-30") if open_invoice else None,
                    "run_id": "run-1", "first_seen_date": DAY, "action": None})
    frame = pd.DataFrame(out, columns=[c for c in ROW_COLUMNS if c != "exception_id"])
    frame["days_overdue"] = frame["days_overdue"].astype("Int64")
    frame["exception_id"] = exception_ids(frame["company_id"], frame["document_type"], frame["document_key"],
                                          frame["outcome"]).where(frame["outcome"] != "matched")
    return frame[ROW_COLUMNS]


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(row, max_size=40),
       states=st.lists(st.sampled_from(list(STAGE_ROWS)), min_size=3, max_size=3))
def test_generated_nights(rows, states):
    frame = _frame(rows)
    summary = summarise(frame) if len(frame) else summarise(frame.iloc[0:0])
    company_states = [summarise_company(c, f"Company {c}", STAGE_ROWS[s]) for c, s in zip(COMPANIES, states,
                                                                                          strict=True)]
    html = render_html(frame, summary, report_date=DAY, run_meta={"run_id": "run-1", "dry_run": False},
                       company_states=company_states, company_names={c: f"Company {c}" for c in COMPANIES})
    body = html[html.index("<body>"):]
    text = re.sub(r"<[^>]+>", " ", body)

    failed = [s for s in states if s != "success"]
    if failed:
        assert 'id="run-failures"' in body and "INCOMPLETE" in body
        assert "every document agrees" not in body and "Complete: every company" not in body
    else:
        assert 'id="run-failures"' not in body
    exceptions = frame[frame["outcome"] != "matched"]
    assert ("every document agrees" in body) == (not failed and exceptions.empty)
    for exception_id in exceptions["exception_id"]:
        assert body.count(exception_id) == 1
    for placeholder in ("None", "nan", "NaN", "<NA>", "NaT", "(none)", "False", "True"):
        assert not re.search(rf"(?<![\w-]){re.escape(placeholder)}(?![\w-])", text), placeholder
