"""Why something failed, in words finance can act on: the one home of every failure explanation.

A failed task's log line (``receivables_airflow.failures``), a company's row in ``ar_run_companies``
(:mod:`receivables.run_state`) and the report of a night whose figures could not be read all ask
:func:`explain`, so the same error reads the same everywhere:

    >>> failure = explain(CodatAuthError("GET /companies/c1 failed with 401", status_code=401))
    >>> failure.sentence, failure.advice, failure.permanent
    ('the API refused the key (401).', 'Check the password of connection codat_default.', True)
    >>> failure.line
    'the API refused the key (401): check the password of connection codat_default'

*Permanent* means no retry can fix it (a refused key, a day in the future): the task should fail at once.
Our own errors say so themselves, with a ``permanent`` or ``retryable`` attribute (``CompanyFailed``,
``RunRefused``, ``WarehouseUnavailable``, ``ConfigurationError``); their message is written for finance
and is kept, cut into its first sentence and the rest. Nothing secret survives: every text is redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from receivables.codat.errors import (
    CodatAuthError,
    CodatError,
    CodatPaymentRequired,
    CodatRateLimited,
    CodatTransportError,
)
from receivables.codat.redaction import redact

_MAX_SENTENCE = 300
# "company <id> (<name>): " opens CompanyFailed messages; whoever shows the failure names the company.
_COMPANY_PREFIX = re.compile(r"^company \S+ \([^)]*\):\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Codat's error messages end with what to do about them after this arrow (receivables.codat.errors).
_HINT = " -> "

CHECK_KEY = "Check the password of connection codat_default."
CHECK_HOST = "Check the host and port of connection codat_default and that the API is up, then rerun the day."
QUOTA = "The API quota is spent: rerun the day after the quota resets."
API_DOWN = "The accounting API failed: rerun the day later; if it persists, contact the API provider."
WAREHOUSE = "The warehouse database could not be used: check connection warehouse_default, then rerun."
READ_THE_LOG = "Read the task log of this stage for the details, fix the cause and rerun the day."
DEFECT = "A defect, not a setting: the traceback is in the task log; rerunning the day is safe."


@dataclass(frozen=True)
class Failure:
    """What failed (one sentence), what to do (one sentence, may be empty), and whether waiting can help.

    ``advice`` is empty when the sentence already says what to do (our own errors often do).
    """

    sentence: str
    advice: str
    permanent: bool

    @property
    def line(self) -> str:
        """Sentence and advice as one line, for a log: ``what failed: what to do``."""
        what = self.sentence.rstrip(".")
        if not self.advice:
            return what
        advice = self.advice.rstrip(".")
        first_word = advice.split()[0]
        if not (len(first_word) > 1 and first_word.isupper()):  # "API …" stays, "Check …" is lowered
            advice = advice[0].lower() + advice[1:]
        return f"{what}: {advice}"


def explain(exc: BaseException) -> Failure:
    """The :class:`Failure` of ``exc``, for a finance reader (see the module docstring)."""
    declared = _declared_permanence(exc)
    if declared is not None:
        sentence, advice = _split(_company_free(_first_line(exc)))
        return _failure(sentence, advice, declared)
    if isinstance(exc, CodatAuthError) or isinstance(exc, CodatError) and exc.status_code in (401, 403):
        return _failure(f"the API refused the key ({exc.status_code}).", CHECK_KEY, True)
    if isinstance(exc, CodatTransportError):
        return _failure(_first_line(exc), CHECK_HOST, False)
    if isinstance(exc, CodatError):
        return _codat_failure(exc)
    if isinstance(exc, ValidationError):
        return _failure(f"the run's settings are not valid: {_settings_problem(exc)}.",
                        "Fix the DAG params or the connection's extra.", True)
    if _is_warehouse_error(exc):
        return _failure(_first_line(exc), WAREHOUSE, False)
    return _failure(f"unexpected {type(exc).__name__}: {_first_line(exc)}", DEFECT, False)


def _codat_failure(exc: CodatError) -> Failure:
    sentence, _, hint = _first_line(exc).partition(_HINT)
    if isinstance(exc, CodatPaymentRequired):
        return _failure(sentence, hint or "Contact the Codat account owner about the plan limit.", True)
    if isinstance(exc, CodatRateLimited) or exc.status_code == 429:
        return _failure(sentence, QUOTA, False)
    if exc.status_code and exc.status_code >= 500:
        return _failure(sentence, API_DOWN, False)
    return _failure(sentence, hint or READ_THE_LOG, False)


def _declared_permanence(exc: BaseException) -> bool | None:
    """Our own errors say whether waiting can help: ``permanent``, or ``retryable`` (its opposite)."""
    permanent = getattr(exc, "permanent", None)
    if isinstance(permanent, bool):
        return permanent
    retryable = getattr(exc, "retryable", None)
    return (not retryable) if isinstance(retryable, bool) else None


def _failure(sentence: str, advice: str, permanent: bool) -> Failure:
    return Failure(_cut(redact(sentence)), _cut(redact(advice)), permanent)


def _split(message: str) -> tuple[str, str]:
    """``"What failed. What to do."`` → its two sentences (the second empty when there is one)."""
    parts = _SENTENCE_END.split(message, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (message, "")


def _company_free(message: str) -> str:
    return _COMPANY_PREFIX.sub("", message)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SENTENCE else text[: _MAX_SENTENCE - 1].rstrip() + "…"


def _settings_problem(exc: ValidationError) -> str:
    """``timezone: Value error, …`` from a pydantic error: the field and the rule, never the input value."""
    first = exc.errors(include_input=False)[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or type(exc).__name__
    return f"{where}: {first.get('msg', 'invalid')}"


def _is_warehouse_error(exc: BaseException) -> bool:
    """A database that could not be used (SQLAlchemy's connection-level errors, named: no SQL here)."""
    return type(exc).__module__.startswith("sqlalchemy") and type(exc).__name__ in (
        "OperationalError", "InterfaceError")
