"""Each connection's push rules, per data type, pulled into ``ar_ref_push_options``.

Codat publishes per connection what its platform accepts in a push — the "create/update model" of each
data type (``GET …/connections/{id}/options/{dataType}``, schema ``PushOption``) — and advises reading it
before building payloads. This module flattens each model into one row per property path (``''`` is the
model itself), with the facts the gate needs in columns: required, maximum length (read from the
platform's own words, e.g. "Should not be longer than 21 characters."), allowed values, and whether the
platform updates records at all. :mod:`receivables.platform_rules` checks documents against these rows.

Increments: a model has no ``modifiedDate``, so each pull reads the five models (five small requests)
and writes a data type's rows only when its content changed, tracked by a content hash in
``ar_sync_state`` (key ``options:<connection>:<data type>``). An integration that publishes nothing —
the endpoint answers 404, fails, or returns an empty model — is recorded as one row with
``published`` false and a note: the gate then applies only its own rules, and the night goes on. A
failure while a model is already stored keeps the stored model (a platform's rules do not vanish
because one request failed), and after one failure the pull asks that endpoint nothing more until the
next pull (each failing read first waits out its retries; the client keeps those short for options).

    >>> outcome = pull_push_options(client, engine, company_id="…", connection_id="…", now=utc_now)
    {'customers': 'unchanged', 'invoices': 'changed', 'creditNotes': 'none published', …}
    >>> rules = read_push_options(engine, company_id)       # the company's current connection
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from receivables import documents
from receivables.codat.errors import CodatError, CodatNotFound
from receivables.codat.models import PushOption, PushOptionProperty
from receivables.nulls import as_objects
from receivables.warehouse import io, schema

log = logging.getLogger(__name__)

TABLE = schema.ar_ref_push_options
COLUMNS = [c.name for c in TABLE.columns]
# The data types the pipeline pushes, from the registry of document kinds (allocations are payments).
DATA_TYPES: tuple[str, ...] = tuple(dict.fromkeys(k.data_type for k in documents.in_push_order()))
ROOT = ""  # property_path of the model itself

CHANGED, UNCHANGED, NONE_PUBLISHED, KEPT = "changed", "unchanged", "none published", "kept (options failed)"

# How platforms state a maximum length (Codat's examples: "Max length of 7 characters.", "Should not be
# longer than 21 characters.", "Must have a length between 1 and 60 characters", "at most 24 characters",
# "Maximum character length should not be longer than 4000.", "Must not exceed 255 characters.",
# "The customer name can have a maximum of 60 characters", "Must have a length of 14 characters").
_MAX_LENGTH = (
    re.compile(r"(?:length of|longer than|greater than|more than|at most|maximum(?: of)?|exceed|"
               r"between \d+ and)\s+(\d+)\s+char", re.I),
    re.compile(r"character length\D{0,40}?(\d+)", re.I),
)
_SHORTER_THAN = re.compile(r"less than\s+(\d+)\s+char", re.I)  # "Must be less than 22 characters."
# A rule that holds only sometimes ("For item based line items, …", "Only for Exact Netherlands, …")
# cannot be applied without knowing the condition; "If provided …" is about the field itself and can.
_CONDITIONAL = re.compile(r"^\s*(?:for|only|when|unless|if(?!\s+(?:included|provided|specified|supplied)))\b",
                          re.I)
_NO_UPDATES = re.compile(
    r"(?:not support\w*|cannot|can ?not|can't|unable to|does not allow|not possible)[^.]*\bupdat"
    r"|\bupdat\w*[^.]*\bnot (?:supported|possible|allowed)", re.I)


# -- reading a model (pure) --------------------------------------------------------------------------

def max_length(details: Iterable[str]) -> int | None:
    """The smallest maximum length the platform states unconditionally, or None.

    >>> max_length(["Should not be longer than 21 characters.", "Must be provided."])
    21
    >>> max_length(["For item based line items, must be between 1 and 45 characters."]) is None
    True
    >>> max_length(["If provided must be a number between 0 and 100."]) is None
    True
    """
    texts = [text for text in details if not _CONDITIONAL.match(text)]
    found = [int(m.group(1)) for text in texts for pattern in _MAX_LENGTH for m in pattern.finditer(text)]
    found += [int(m.group(1)) - 1 for text in texts for m in _SHORTER_THAN.finditer(text)]
    return min(found) if found else None


def refuses_updates(details: Iterable[str]) -> bool:
    """Whether the model's own rules say records can only be created, never updated.

    >>> refuses_updates(["Sage Business Cloud Accounting does not support updating invoices."])
    True
    >>> refuses_updates(["Must be provided."])
    False
    """
    return any(_NO_UPDATES.search(text) for text in details)


def _parents(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def _property_row(path: str, prop: PushOptionProperty, flags: Mapping[str, bool]) -> dict[str, Any]:
    validation = prop.validation
    warnings = [i.details for i in (validation.warnings or []) if i.details] if validation else []
    information = [i.details for i in (validation.information or []) if i.details] if validation else []
    allowed = [o.value for o in prop.options or [] if o.value]
    return {
        "property_path": path, "display_name": prop.display_name, "option_type": prop.type.value,
        "required": bool(prop.required),
        "always_required": bool(prop.required) and all(flags[p] for p in _parents(path)),
        "max_length": max_length(warnings + information),
        "allowed_values": json.dumps(allowed) if allowed else None,
        "validation_warnings": json.dumps(warnings) if warnings else None,
        "validation_information": json.dumps(information) if information else None,
    }


def option_rows(model: PushOption, *, company_id: str, connection_id: str, data_type: str,
                platform_name: str | None, fetched_at: datetime) -> pd.DataFrame:
    """One published model → its rows of ``ar_ref_push_options`` (pure)."""
    walked = list(model.walk())
    flags = {path: bool(prop.required) for path, prop in walked}
    rows = [_property_row(path, prop, flags) for path, prop in walked]
    root_rules = model.validation.details() if model.validation else []
    rows[0].update(always_required=True, update_supported=not refuses_updates(root_rules))
    common = {"company_id": company_id, "connection_id": connection_id, "data_type": data_type,
              "platform_name": platform_name, "published": True, "note": None, "fetched_at": fetched_at}
    return pd.DataFrame([{**common, **row} for row in rows]).reindex(columns=COLUMNS)


def unpublished_rows(*, company_id: str, connection_id: str, data_type: str, platform_name: str | None,
                     note: str, fetched_at: datetime) -> pd.DataFrame:
    """The one row saying a connection publishes no model for ``data_type``, and why (pure)."""
    row = {"company_id": company_id, "connection_id": connection_id, "data_type": data_type,
           "property_path": ROOT, "platform_name": platform_name, "published": False, "note": note,
           "fetched_at": fetched_at}
    return pd.DataFrame([row]).reindex(columns=COLUMNS)


def content_hash(rows: pd.DataFrame) -> str:
    """What a data type's rows say, without when they were read: equal hashes, nothing to write."""
    facts = rows.drop(columns=["fetched_at"]).sort_values("property_path")
    text = pd.DataFrame({c: as_objects(facts[c]) for c in facts.columns}).to_json(orient="records")
    return hashlib.sha256(text.encode()).hexdigest()


# -- pulling and reading (the edges) -----------------------------------------------------------------

def _state_key(connection_id: str, data_type: str) -> str:
    return f"options:{connection_id}:{data_type}"


def _platform_name(client, company_id: str, connection_id: str) -> str | None:
    try:
        return client.get_connection(company_id, connection_id).platform_name
    except CodatError as exc:  # the name is a label: its absence must not stop the pull
        log.warning("company %s: could not read connection %s's platform name: %s", company_id, connection_id,
                    str(exc).splitlines()[0])
        return None


def _read(client, company_id: str, connection_id: str, data_type: str,
          failed: CodatError | None) -> PushOption | CodatError:
    """The model, or the error the endpoint answered. After one failure in a pull (``failed``) the endpoint
    is not asked again until the next pull: each failing read waits out its retries first."""
    if failed is not None:
        return failed
    try:
        return client.get_push_options(company_id, connection_id, data_type)
    except CodatError as exc:
        return exc


def _rows_for(answer: PushOption | CodatError, stored: pd.DataFrame,
              **who: Any) -> tuple[pd.DataFrame | None, str]:
    """The rows to store for one data type (None: keep what is stored) and what happened, in words."""
    if isinstance(answer, CodatNotFound):
        return unpublished_rows(**who, note="the options endpoint answered 404: this integration publishes "
                                            "no push rules for this data type"), NONE_PUBLISHED
    if isinstance(answer, CodatError):
        reason = str(answer).splitlines()[0]
        if bool(stored["published"].astype(bool).any()):
            log.warning("company %s: options of %s failed (%s); keeping the rules stored on %s",
                        who["company_id"], who["data_type"], reason, stored["fetched_at"].max())
            return None, KEPT
        return unpublished_rows(**who, note=f"the options endpoint failed: {reason}"), NONE_PUBLISHED
    if answer.is_empty:
        return unpublished_rows(**who, note="the options endpoint answered an empty model: this integration "
                                            "publishes no push rules for this data type"), NONE_PUBLISHED
    return option_rows(answer, **who), CHANGED


def _store(engine, changed: list[tuple[str, pd.DataFrame, str]], *, company_id: str, connection_id: str,
           now: datetime) -> None:
    """Each changed data type's rows (replacing its stored ones) and its digest, ``(data_type, rows,
    digest)``, in one transaction of one delete and two inserts: a digest never names rows that are not
    stored, and a crash leaves all of them as they were, so the next pull stores them again. One commit
    for the pull, however many types changed."""
    states = pd.DataFrame([{"company_id": company_id, "data_type": _state_key(connection_id, data_type),
                            "watermark": digest, "updated_at": now} for data_type, _, digest in changed])

    def store(conn) -> None:
        io.replace_rows(conn, TABLE, pd.concat([rows for _, rows, _ in changed], ignore_index=True),
                        where={"company_id": company_id, "connection_id": connection_id,
                               "data_type": [data_type for data_type, _, _ in changed]})
        io.write_frame(conn, schema.ar_sync_state, states, mode="upsert",
                       key_columns=["company_id", "data_type"])

    if changed:
        io.execute_in_transaction(engine, store)


def pull_push_options(client, engine, *, company_id: str, connection_id: str, now: datetime,
                      data_types: Iterable[str] | None = None, full: bool = False) -> dict[str, str]:
    """Read the connection's push model of each data type into ``ar_ref_push_options``; never raises
    for what the options endpoint answers (see the module docstring). Returns what happened per type.
    """
    platform_name = _platform_name(client, company_id, connection_id)
    stored_all = io.read_frame(engine, TABLE,
                               where={"company_id": company_id, "connection_id": connection_id})
    states = io.read_frame(engine, schema.ar_sync_state, where={"company_id": company_id})
    previous = dict(zip(states["data_type"], states["watermark"], strict=True))
    outcomes: dict[str, str] = {}
    failed: CodatError | None = None
    changed: list[tuple[str, pd.DataFrame, str]] = []
    for data_type in data_types or DATA_TYPES:
        stored = stored_all[stored_all["data_type"] == data_type]
        answer = _read(client, company_id, connection_id, data_type, failed)
        if isinstance(answer, CodatError) and not isinstance(answer, CodatNotFound):
            failed = answer
        rows, outcome = _rows_for(answer, stored, company_id=company_id, connection_id=connection_id,
                                  data_type=data_type, platform_name=platform_name, fetched_at=now)
        if rows is not None:
            digest = content_hash(rows)
            if not full and digest == previous.get(_state_key(connection_id, data_type)) and len(stored):
                outcome = UNCHANGED if outcome == CHANGED else outcome
            else:
                changed.append((data_type, rows, digest))
        outcomes[data_type] = outcome
    _store(engine, changed, company_id=company_id, connection_id=connection_id, now=now)
    log.info("company %s: push options of connection %s (%s) — %s", company_id, connection_id,
             platform_name or "platform unknown", outcomes)
    return outcomes


def read_push_options(engine, company_id: str, connection_id: str | None = None) -> pd.DataFrame:
    """The push rules of a company's connection (by default the one ``ar_companies`` names)."""
    if connection_id is None:
        company = io.read_frame(engine, schema.ar_companies, where={"company_id": company_id})
        if company.empty:
            return io.read_frame(engine, TABLE, where={"company_id": company_id}).iloc[0:0]
        connection_id = str(company["connection_id"].iloc[0])
    return io.read_frame(engine, TABLE, where={"company_id": company_id, "connection_id": connection_id})


def company_platforms(engine, company_ids: Iterable[str]) -> dict[str, str]:
    """Company id → the platform its current connection is on, as last read (for the report)."""
    ids = list(company_ids)
    if not ids:
        return {}
    companies = io.read_frame(engine, schema.ar_companies, where={"company_id": ids})
    rows = io.read_frame(engine, TABLE, where={"company_id": ids, "property_path": ROOT})
    current = set(zip(companies["company_id"].astype(str), companies["connection_id"].astype(str),
                      strict=True))
    named = rows[rows["platform_name"].notna()]
    pairs = zip(named["company_id"].astype(str), named["connection_id"].astype(str), named["platform_name"],
                strict=True)
    return {c: str(p) for c, k, p in pairs if (c, k) in current}
