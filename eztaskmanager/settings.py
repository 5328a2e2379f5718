"""Deprecated: 0.5.x's settings module, kept until 0.8; use ``eztaskmanager.conf``.

Each ``EZTASKMANAGER_<NAME>`` attribute is read from the project's settings when it is asked
for (0.5.x copied them at import time), with this version's default.
"""

from __future__ import annotations

from django.conf import settings as django_settings

from eztaskmanager import conf
from eztaskmanager.compat import OBSOLETE_SETTINGS, deprecated

deprecated("eztaskmanager.settings", 'eztaskmanager.conf.get("<NAME>")')


def __getattr__(name: str):
    key = name.removeprefix(conf.PREFIX)
    if key != name:
        if key in conf.DEFAULTS:
            return conf.get(key)
        if key in OBSOLETE_SETTINGS:
            return getattr(django_settings, name, OBSOLETE_SETTINGS[key])
    raise AttributeError(f"module 'eztaskmanager.settings' has no attribute {name!r}")
