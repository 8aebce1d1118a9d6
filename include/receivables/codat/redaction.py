"""The one place that decides what never gets logged: API keys, Authorization headers, secret-looking values.

The client registers its key here; :class:`RedactingFilter` scrubs every record of the
``receivables.codat`` logger, and :func:`redact` scrubs any text (exception messages, reprs).

    >>> register_secret("my-key")
    >>> redact("Authorization: Basic bXkta2V5 sent with my-key")
    'Authorization: Basic *** sent with ***'
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Mapping

MASK = "***"
LOGGER_NAME = "receivables.codat"

_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
# "Basic <token>" / "Bearer <token>" anywhere, and key=value pairs whose key looks secret (URLs, headers).
_AUTH_SCHEME = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]+")
_SECRET_PAIR = re.compile(
    r"(?i)\b((?:api[_-]?key|apikey|password|passwd|secret|token|access[_-]?token|client[_-]?secret)"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;}]+)"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def basic_auth_value(api_key: str) -> str:
    """The Authorization header value Codat expects: ``Basic base64(API_KEY)``."""
    return "Basic " + base64.b64encode(api_key.encode()).decode()


def register_secret(secret: str | None) -> None:
    """Remember a secret (and its Basic-auth encoding) so it is masked wherever it shows up."""
    if not secret or len(secret) < 4:
        return
    with _lock:
        _secrets.add(secret)
        _secrets.add(base64.b64encode(secret.encode()).decode())


def redact(text: str) -> str:
    """Return ``text`` with registered secrets, auth tokens and secret-looking pairs masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _SECRET_PAIR.sub(lambda m: m.group(1) + MASK, text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` that is safe to log."""
    return {k: (MASK if k.lower() in _SENSITIVE_HEADERS else redact(str(v))) for k, v in headers.items()}


class RedactingFilter(logging.Filter):
    """A logging filter that renders the message and masks every secret in it (and in tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now so its text is scrubbed too.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
            record.exc_info = None
        return True


_filter = RedactingFilter()


def get_logger() -> logging.Logger:
    """The client's logger, with the redacting filter installed exactly once."""
    logger = logging.getLogger(LOGGER_NAME)
    if _filter not in logger.filters:
        logger.addFilter(_filter)
    return logger
