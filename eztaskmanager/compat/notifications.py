"""0.5.x names of the notification module, and ``LaunchReport.get_notification_handlers()``."""

from __future__ import annotations

import logging
import re

from django.apps import apps

from eztaskmanager import conf
from eztaskmanager.compat import deprecated, levels
from eztaskmanager.services.notifications import build_handler

logger = logging.getLogger(__name__)

# Message templates by 0.5.x level value; fields: task_name, invocation_time, n_errors,
# n_warnings.
MESSAGES = {
    0: 'Task *"{task_name}"* started at {invocation_time} ended without errors.',
    10: 'Task *"{task_name}"* started at {invocation_time} ended with *{n_errors}* errors '
    "and *{n_warnings}* warnings.",
    20: 'Task *"{task_name}"* started at {invocation_time} ended with *{n_errors}* errors '
    "and *{n_warnings}* warnings.",
    30: 'Task *"{task_name}"* started at {invocation_time} *failed*.',
}


def get_base_url() -> str:
    """The site's host name: the current Site's domain if the sites framework is installed,
    else ``EZTASKMANAGER_BASE_URL`` without its scheme."""
    base = re.sub(r"^https?://", "", conf.get("BASE_URL") or "").rstrip("/")
    if apps.is_installed("django.contrib.sites"):
        site_model = apps.get_model("sites", "Site")
        return site_model.objects.get_current().domain or base
    return base


# name in eztaskmanager.services.notifications -> (value, replacement to name in the warning)
NAMES = {
    "LEVEL_MAPPING": (
        lambda: dict(levels.LEGACY_VALUES),
        "the level names in eztaskmanager.services.notifications.LEVELS",
    ),
    "MESSAGES": (lambda: dict(MESSAGES), "eztaskmanager.services.notifications.summary(report)"),
    "get_base_url": (
        lambda: get_base_url,
        "the EZTASKMANAGER_BASE_URL setting or eztaskmanager.services.notifications.log_url()",
    ),
}


def module_attribute(name: str):
    """Value of the deprecated attribute ``name`` of the notification module (warns once)."""
    if name not in NAMES:
        raise AttributeError(
            f"module 'eztaskmanager.services.notifications' has no attribute {name!r}"
        )
    value, replacement = NAMES[name]
    deprecated(f"eztaskmanager.services.notifications.{name}", replacement, stacklevel=4)
    return value()


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
