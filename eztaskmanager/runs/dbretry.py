"""Riding out a database restart: retry a write until the database answers again.

A PostgreSQL restart closes every connection; Django then raises ``OperationalError`` or
``InterfaceError`` on the broken connection until it is closed and opened again. A long-lived
process (a run's log handler, its heartbeat, the scheduler) closes the connection and tries
again with a capped backoff instead of losing what it was writing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError

from eztaskmanager import conf
from eztaskmanager.internals.django import in_atomic_block, open_connections

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
T = TypeVar("T")


def reconnect() -> None:
    """Close this thread's broken connections, so that the next query opens a new one."""
    for connection in open_connections():
        if not in_atomic_block(connection):
            connection.close()


def until_database_answers(func: Callable[[], T], what: str, limit: float | None = None) -> T:
    """``func()``, tried again while the database is unreachable, for up to ``limit`` seconds
    (``DATABASE_RETRY_SECONDS``); the last error is raised when it does not come back."""
    limit = conf.get("DATABASE_RETRY_SECONDS") if limit is None else limit
    deadline = time.monotonic() + limit
    delay, warned = 0.2, False
    while True:
        try:
            return func()
        except DATABASE_DOWN as exc:
            if time.monotonic() + delay > deadline:
                raise
            if not warned:
                logger.warning("Database unreachable %s (%s); trying again", what, exc)
                warned = True
            reconnect()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
