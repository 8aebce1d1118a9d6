"""When a task fails: one line that says what failed and what to do, and whether waiting can fix it.

Every task body runs inside :func:`explained`. A failure is logged once as a line starting with
:data:`MARK` (the console of ``make sync`` prints these lines, one per failed task), and a failure that no
retry can fix — a refused API key, an unknown host, a missing warehouse database, a day in the future —
becomes an ``AirflowFailException``: the task fails at once, with no retries and no repeated tracebacks.
Anything else is re-raised unchanged, so Airflow's retries handle what waiting may fix.

    with explained(company):
        return jobs.sync_company(...)
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("receivables.task_error")

# What the console looks for in a run's output; keep it stable.
MARK = "TASK ERROR:"

# getaddrinfo answers that mean "no such name" (as opposed to EAI_AGAIN, a resolver that may recover).
_NO_SUCH_NAME = {code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
                 if code is not None}


class ConfigurationError(RuntimeError):
    """A connection points at something that is not there (a host, a database): waiting cannot help."""

    permanent = True


@dataclass(frozen=True)
class Explained:
    """The one line a person reads, and whether a retry could succeed."""

    line: str
    permanent: bool


def check_api_host(base_url: str, conn_id: str = "codat_default") -> None:
    """Fail in seconds when the API's host name does not exist (the retry policy would try for minutes)."""
    parts = urlsplit(base_url)
    host = parts.hostname
    if not host:
        raise ConfigurationError(f"the API URL of connection {conn_id} has no host: set its host, "
                                 "e.g. https://api.codat.io")
    try:
        socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        if exc.errno in _NO_SUCH_NAME:
            raise ConfigurationError(f"the API host {host} is unknown (no DNS record): check the host of "
                                     f"connection {conn_id}") from None
        # A resolver that is down may come back: the request's own retries deal with it.


def explain(exc: BaseException, *, who: str | None = None) -> Explained:
    """The one-line error (with advice) for a task failure, and whether it is permanent.

    The words are :func:`receivables.failures.explain`'s, the same the run's company states and report
    show; only what is Airflow's own (a connection defined nowhere) is explained here.
    """
    # Imported here, not at the top: DAG files import this module, and parsing them must stay light
    # (receivables.failures brings the Codat client with it).
    from airflow.sdk.exceptions import AirflowNotFoundException

    from receivables import failures

    if isinstance(exc, AirflowNotFoundException):
        failure = failures.Failure(_first_line(exc), "Define it (see docs/operations.md, 'Connections').",
                                   permanent=True)
    else:
        failure = failures.explain(exc)
    return Explained(_with_who(who, failure.line), permanent=failure.permanent)


@contextmanager
def explained(company: Mapping[str, Any] | None = None) -> Generator[None]:
    """Log a failure as one :data:`MARK` line; permanent ones fail the task without retries."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

    try:
        yield
    except Exception as exc:
        if isinstance(exc, AirflowException) and not isinstance(exc, AirflowNotFoundException):
            raise  # Airflow's own signals (skip, fail, reschedule) pass through as they are
        explanation = explain(exc, who=_company_label(company))
        log.error("%s %s", MARK, explanation.line)
        if not explanation.permanent:
            log.info("this may pass on its own: Airflow retries the task (when it has retries left)")
        if explanation.permanent:
            # The line says it all; the chained traceback of a configuration error would only repeat it.
            raise AirflowFailException(explanation.line) from None
        raise


def _company_label(company: Mapping[str, Any] | None) -> str | None:
    if not company:
        return None
    name = company.get("name")
    return f"company {name}" if name else f"company {company.get('company_id')}"


def _with_who(who: str | None, line: str) -> str:
    return line if not who or line.startswith("company ") else f"{who}: {line}"


def _first_line(exc: BaseException) -> str:
    from receivables.codat.redaction import redact  # see explain: kept off the DAG files' parse

    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0])
