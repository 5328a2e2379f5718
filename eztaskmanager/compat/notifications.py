"""0.5.x names of the notification module: ``LEVEL_MAPPING``, ``MESSAGES``, ``get_base_url``."""

from __future__ import annotations

import re

from django.apps import apps

from eztaskmanager import conf
from eztaskmanager.compat import deprecated, levels

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
    # This is the module's __getattr__ itself, so the caller's frame is the next one up.
    deprecated(f"eztaskmanager.services.notifications.{name}", replacement, stacklevel=3)
    return value()
