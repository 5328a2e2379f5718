"""Notification levels as 0.5.x spelled them: names its documentation used and integers.

0.5.x compared an integer per result (``LEVEL_MAPPING``: ok 0, warnings 10, errors 20,
failed 30) with the handler's level, and its documentation and demo wrote ``"failure"``. Both
are read as the level names of this version; ``manage.py check`` says what to write instead.
"""

from __future__ import annotations

from eztaskmanager.models import LaunchReport
from eztaskmanager.notifications import NotificationHandler

# Notification levels, lowest first: the one severity order (``services.notifications.LEVELS``).
LEVELS = LaunchReport.RESULT_LEVELS

# The integers of 0.5.x's LEVEL_MAPPING, by level name.
LEGACY_VALUES = {"ok": 0, "warnings": 10, "errors": 20, "failed": 30}

# Spellings found in 0.5.x's documentation and projects built from it.
LEGACY_NAMES = {
    "failure": "failed",
    "failures": "failed",
    "error": "errors",
    "warning": "warnings",
}


def register() -> None:
    """Let notification handlers read 0.5.x's level spellings (``apps.py`` calls this)."""
    NotificationHandler.read_level = staticmethod(level_name)


def level_name(value) -> str | None:
    """The level name ``value`` stands for, or None when it means no level at all.

    An integer is read as 0.5.x did: a handler notifies results whose value is at least its
    own, so 15 means ``errors`` and above.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value > LEGACY_VALUES["failed"]:
            return None
        return next(name for name in LEVELS if LEGACY_VALUES[name] >= value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LEVELS:
            return text
        return LEGACY_NAMES.get(text)
    return None
