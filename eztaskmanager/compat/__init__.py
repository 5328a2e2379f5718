"""What keeps a 0.5.x project working: old names and spellings, each deprecated until 0.8.

Every deprecated name goes through ``deprecated()``, which warns once per process with a
``DeprecationWarning`` naming the replacement and remembers the use, so that the system check
``eztaskmanager.W020`` can list what the project still uses.
"""

from __future__ import annotations

import threading
import warnings

REMOVED_IN = "0.8"

# Settings of 0.5.x that this version does not use, with their 0.5.x defaults.
OBSOLETE_SETTINGS = {"USE_FILTER_COLLAPSE": True}

_used: dict[str, str] = {}
_lock = threading.Lock()


def deprecated(name: str, replacement: str, stacklevel: int = 3) -> None:
    """Warn (the first time only) that ``name`` is deprecated in favour of ``replacement``."""
    with _lock:
        if name in _used:
            return
        _used[name] = replacement
    warnings.warn(
        f"{name} is deprecated and will be removed in django-eztaskmanager {REMOVED_IN}; "
        f"use {replacement}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def used_names() -> dict[str, str]:
    """Deprecated names used so far in this process, each with its replacement."""
    with _lock:
        return dict(_used)


def forget_uses() -> None:
    """Forget the uses recorded so far (tests start from a clean slate with it)."""
    with _lock:
        _used.clear()
