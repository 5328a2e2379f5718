"""Notifications sent when a run ends, by result level.

``EZTASKMANAGER_NOTIFICATION_HANDLERS`` maps a name to ``{"class": "dotted.path", "level":
"errors", ...keyword arguments}``; handlers are built from it each time a report is notified.
A handler fires for a report whose result is at or above its level (ok < warnings < errors <
failed). A failing handler is logged and never changes the run's result.
"""

from __future__ import annotations

import logging

from django.utils.module_loading import import_string

from eztaskmanager import conf

logger = logging.getLogger(__name__)

LEVELS = ("ok", "warnings", "errors", "failed")


def level_rank(level: str) -> int:
    return LEVELS.index(level)


class NotificationHandler:
    """Base class: decides whether a report is worth sending and sends it."""

    def __init__(self, level: str = "errors"):
        if level not in LEVELS:
            raise ValueError(f"Unknown notification level {level!r}; use one of {LEVELS}.")
        self.level = level

    def wants(self, report) -> bool:
        result = report.invocation_result
        return result in LEVELS and level_rank(result) >= level_rank(self.level)

    def handle(self, report) -> None:
        if self.wants(report):
            self.emit(report)

    def emit(self, report) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def build_handlers(config: dict | None = None) -> list[tuple[str, NotificationHandler]]:
    """Instantiate the handlers described by ``config`` (default: the setting)."""
    if config is None:
        config = conf.get("NOTIFICATION_HANDLERS") or {}
    handlers = []
    for name, spec in config.items():
        spec = dict(spec)
        handler_class = import_string(spec.pop("class"))
        handlers.append((name, handler_class(**spec)))
    return handlers


def emit_notifications(report) -> None:
    """Send ``report`` to every configured handler; log failures, never raise."""
    try:
        handlers = build_handlers()
    except Exception:
        logger.exception("Notification handlers are misconfigured; nothing sent.")
        return
    for name, handler in handlers:
        try:
            handler.handle(report)
        except Exception as exc:
            logger.warning("Notification %r for report %s failed: %s", name, report.pk, exc)
