"""A dry run's plan, field by field: what each planned update would change, old → new.

The old side is the payload the document last reached the platform with: after every push, the payloads
that ended ``success`` are kept in ``ar_push_payloads`` (:func:`record_pushed`). The new side is tonight's
payload. Both are flattened to dotted paths (``lineItems[0].unitAmount``) and compared value by value,
so a reader sees ``totalAmount: 100.00 → 120.00`` instead of "content changed".

The dry run itself writes only under ``reports/D/dry-run/``: a CSV plan per company (``sync``), then
``plan.html`` and ``summary.txt`` for the run (:func:`write_dry_run_report`), both headed DRY RUN.

    >>> field_changes(b'{"totalAmount":100.0,"status":"Submitted"}',
    ...               b'{"totalAmount":120.0,"status":"Submitted"}')
    [('totalAmount', 100.0, 120.0)]
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from receivables.warehouse import io, records, schema

PAYLOADS = schema.metadata.tables["ar_push_payloads"]
KEY = ["company_id", "document_type", "source_id"]
PLAN_COLUMNS = ["company_id", "document_type", "source_id", "document_number", "action", "changes", "reason"]

# The planner's actions, in the words and order the plan shows them; the first five are always counted.
ACTION_LABELS = {
    "create": "creates", "update": "updates", "unchanged": "unchanged", "wait": "waiting",
    "reject": "rejected",
    "resolve": "to check (outcome of an earlier push unknown: read back first)",
    "changed_after_push": "changed after push (create-only in the platform: reported, not sent)",
    "failed_unchanged": "failed before, unchanged (not sent again)",
}
MAX_CHANGES_SHOWN = 12
ABSENT = "(absent)"


# -- the diff (pure) --------------------------------------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a JSON value by path: ``{"a": {"b": [1]}}`` → ``{"a.b[0]": 1}``."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out or {prefix: []}
    return {prefix: value}


def field_changes(old: bytes | str | None, new: bytes | str) -> list[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; a field only on one side shows as absent on the other."""
    before = flatten(orjson.loads(old)) if old else {}
    after = flatten(orjson.loads(new))
    paths = list(after) + [p for p in before if p not in after]
    return [(p, before.get(p, ABSENT), after.get(p, ABSENT)) for p in paths
            if before.get(p, ABSENT) != after.get(p, ABSENT)]


def describe(changes: list[tuple[str, Any, Any]]) -> str:
    """``totalAmount: 100.0 → 120.0; dueDate: 2026-01-01 → 2026-02-01`` (the first few, then a count)."""
    def show(value: Any) -> str:
        return value if isinstance(value, str) else orjson.dumps(value).decode()

    shown = [f"{path}: {show(old)} → {show(new)}" for path, old, new in changes[:MAX_CHANGES_SHOWN]]
    if len(changes) > MAX_CHANGES_SHOWN:
        shown.append(f"… and {len(changes) - MAX_CHANGES_SHOWN} more field(s)")
    return "; ".join(shown)


# -- what the platform last received ----------------------------------------------------------------

def _stored(engine, company_id: str, *, with_payload: bool) -> pd.DataFrame:
    columns = (*KEY, "content_hash", *(["payload"] if with_payload else []))
    return records.stored_payloads(engine, company_id, columns)


def record_pushed(engine, final: pd.DataFrame) -> int:
    """Keep the payload of every document of ``final`` (a push phase's rows) that the platform now holds.

    Rows pushed with ``success`` and rows left ``unchanged`` (same content as the last success) count;
    a row already stored with the same content hash is not written again. Returns rows written.
    """
    if final.empty or "payload" not in final:
        return 0
    status = final["status"] if "status" in final else pd.Series(None, index=final.index, dtype=object)
    held = ((status == "success") | (final["action"] == "unchanged")).fillna(False).astype(bool)
    rows = final[held & final["payload"].notna()]
    if rows.empty:
        return 0
    stored = _stored(engine, str(rows["company_id"].iloc[0]), with_payload=False)
    known = set(zip(stored["document_type"], stored["source_id"].astype(str), stored["content_hash"],
                    strict=True))
    fresh = [(t, str(s), h) not in known for t, s, h in
             zip(rows["document_type"], rows["source_id"], rows["content_hash"], strict=True)]
    rows = rows[pd.Series(fresh, index=rows.index, dtype=bool)]
    if rows.empty:
        return 0
    out = pd.DataFrame({
        "company_id": rows["company_id"].astype(str), "document_type": rows["document_type"],
        "source_id": rows["source_id"].astype(str), "content_hash": rows["content_hash"],
        "payload": [p.decode() if isinstance(p, bytes) else str(p) for p in rows["payload"]],
        "pushed_at": datetime.now(UTC).replace(tzinfo=None),
    })
    io.write_frame(engine, PAYLOADS, out, mode="upsert", key_columns=KEY)
    return len(out)


def planned_rows(engine, plan: pd.DataFrame) -> pd.DataFrame:
    """A dry run's planned push rows with ``changes``: old → new per field for every planned update."""
    out = plan.reindex(columns=[c for c in PLAN_COLUMNS if c not in ("changes", "reason")]).copy()
    out["changes"] = ""
    out["reason"] = ""
    diffed = plan["action"].isin(["update", "changed_after_push"])
    if not diffed.any():
        return out[PLAN_COLUMNS]
    stored = _stored(engine, str(plan["company_id"].iloc[0]), with_payload=True)
    keys = zip(stored["document_type"], stored["source_id"].astype(str), strict=True)
    last = dict(zip(keys, stored["payload"], strict=True))
    for index in plan.index[diffed]:
        row = plan.loc[index]
        old = last.get((row["document_type"], str(row["source_id"])))
        if old is None:
            out.loc[index, "changes"] = ("content differs from the last push; its fields were not kept then "
                                         "(pushed before field-level plans existed)")
            continue
        changes = field_changes(old, row["payload"])
        out.loc[index, "changes"] = describe(changes) if changes else "no field differs from the last push"
    return out[PLAN_COLUMNS]


def side_rows(frame: pd.DataFrame, action: str, reason_column: str,
              id_column: str = "source_id") -> pd.DataFrame:
    """Waiting or rejected documents as plan rows (``reason`` says why)."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    return pd.DataFrame({
        "company_id": frame["company_id"].astype(str), "document_type": frame["document_type"],
        "source_id": frame[id_column].astype(str),
        "document_number": frame["document_number"] if "document_number" in frame else None,
        "action": action, "changes": "", "reason": frame[reason_column].astype(str),
    })[PLAN_COLUMNS]


# -- the dry run's report -----------------------------------------------------------------------------

def counts(plan: pd.DataFrame) -> dict[str, int]:
    """Documents per planned action, the five main ones always present (zero when none)."""
    found = plan["action"].value_counts().to_dict() if len(plan) else {}
    out = {a: int(found.get(a, 0)) for a in ("create", "update", "unchanged", "wait", "reject")}
    out.update({a: int(n) for a, n in found.items() if a not in out})
    return out


def _counts_line(numbers: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {ACTION_LABELS.get(a, a)}" for a, n in numbers.items() if n or a in (
        "create", "update", "unchanged", "wait", "reject"))


def read_plans(folder: Path,
               companies: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], pd.DataFrame]]:
    """The run's companies with their plan CSV (an empty plan when a company's sync wrote none)."""
    out = []
    for company in companies:
        path = folder / f"plan-{company['company_id']}.csv"
        plan = pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else pd.DataFrame(
            columns=PLAN_COLUMNS)
        out.append((company, plan.reindex(columns=PLAN_COLUMNS).fillna("")))
    return out


def write_dry_run_report(folder: Path, business_date: date, companies: Iterable[Mapping[str, Any]],
                         run_id: str) -> dict[str, Any]:
    """``summary.txt`` and ``plan.html`` of a dry run, from the companies' plan CSVs in ``folder``."""
    plans = read_plans(folder, companies)
    folder.mkdir(parents=True, exist_ok=True)
    head = f"DRY RUN of {business_date}: nothing was pushed and nothing in the warehouse changed"
    total = counts(pd.concat([p for _, p in plans], ignore_index=True)) if plans else counts(
        pd.DataFrame(columns=PLAN_COLUMNS))
    lines = [head, f"would do: {_counts_line(total)}"]
    lines += [f"company {c.get('name') or c['company_id']}: {_counts_line(counts(p))}" for c, p in plans]
    (folder / "summary.txt").write_text("\n".join(lines) + "\n")
    (folder / "plan.html").write_text(_html(head, business_date, run_id, total, plans))
    return {"html": str(folder / "plan.html"), "summary_txt": str(folder / "summary.txt"), "counts": total}


def _html(head: str, business_date: date, run_id: str, total: Mapping[str, int],
          plans: list[tuple[Mapping[str, Any], pd.DataFrame]]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>DRY RUN — plan for {e(str(business_date))}</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:1.5rem;max-width:1360px}"
        ".banner{background:#fff3cd;border:2px solid #b58105;padding:.8rem 1rem;font-size:1.2rem;"
        "font-weight:600}table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}"
        "th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}"
        "td.changes{font-family:ui-monospace,monospace;font-size:12px;overflow-wrap:anywhere}</style></head><body>",
        f"<div class='banner'>DRY RUN — {e(head)}</div>",
        f"<p>Run {e(run_id)}. Would do: {e(_counts_line(total))}. "
        "Updates show each field that would change, last pushed value → new value.</p>",
    ]
    for company, plan in plans:
        name = company.get("name") or company["company_id"]
        parts.append(f"<h2>{e(str(name))}</h2><p>{e(_counts_line(counts(plan)))}</p>")
        shown = plan[plan["action"] != "unchanged"]
        if shown.empty:
            parts.append("<p>Nothing would change.</p>")
            continue
        parts.append("<table><thead><tr><th>Action</th><th>Document</th><th>Number</th>"
                     "<th>What would change / why</th></tr></thead><tbody>")
        for row in shown.itertuples():
            detail = row.changes or row.reason
            parts.append(f"<tr><td>{e(ACTION_LABELS.get(row.action, row.action))}</td>"
                         f"<td>{e(row.document_type.replace('_', ' '))} {e(row.source_id)}</td>"
                         f"<td>{e(row.document_number)}</td><td class='changes'>{e(detail)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)
