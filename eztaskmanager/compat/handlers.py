"""0.5.x's ``LaunchReport.get_notification_handlers()``."""

from __future__ import annotations

import logging

from eztaskmanager import conf
from eztaskmanager.compat import deprecated
from eztaskmanager.models import LaunchReport
from eztaskmanager.notifications import build_handler

logger = logging.getLogger(__name__)


def register() -> None:
    """Serve 0.5.x's ``LaunchReport.get_notification_handlers()`` (``apps.py`` calls this)."""
    LaunchReport.legacy_handlers = staticmethod(notification_handlers)


def notification_handlers() -> dict:
    """The configured handlers by name, built now; an entry that cannot be built is left out.

    0.5.x built them once at start and skipped a class it could not import; this version builds
    them for each report from the setting (``emit_notifications``).
    """
    deprecated(
        "LaunchReport.get_notification_handlers()",
        "eztaskmanager.services.notifications.emit_notifications(report)",
        stacklevel=4,
    )
    handlers = {}
    for name, spec in (conf.get("NOTIFICATION_HANDLERS") or {}).items():
        try:
            handlers[name] = build_handler(spec)
        except Exception as exc:
            logger.warning("Notification handler %r cannot be built: %s", name, exc)
    return handlers
