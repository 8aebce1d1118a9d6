"""Alerts for finance: logged by default, or sent through any Airflow notifier the user configures.

Set the Airflow Variable ``receivables_alert_notifier`` to a dotted path of a ``BaseNotifier`` factory
(e.g. ``airflow.providers.slack.notifications.slack.SlackNotifier``) and ``receivables_alert_kwargs`` to
its JSON arguments to send alerts by chat or email instead of only logging them.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

from airflow.sdk import BaseNotifier, Variable

log = logging.getLogger("receivables.alert")


class LogNotifier(BaseNotifier):
    """The default notifier: a warning in the task log that anyone reading the run sees."""

    template_fields = ("message",)

    def __init__(self, message: str = "") -> None:
        super().__init__()
        self.message = message

    def notify(self, context: Any) -> None:
        log.warning("RECEIVABLES ALERT: %s", self.message)


def _configured_notifier(message: str) -> BaseNotifier | None:
    path = Variable.get("receivables_alert_notifier", default=None)
    if not path:
        return None
    module_name, _, attr = path.rpartition(".")
    factory = getattr(importlib.import_module(module_name), attr)
    kwargs = json.loads(Variable.get("receivables_alert_kwargs", default="{}"))
    kwargs.setdefault("text", message)
    return factory(**kwargs)


def send_alert(message: str, context: Any) -> None:
    """Always log the alert; also send it through the configured notifier, if any."""
    LogNotifier(message)(context)
    notifier = _configured_notifier(message)
    if notifier is not None:
        notifier(context)
