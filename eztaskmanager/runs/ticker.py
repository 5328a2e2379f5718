"""One helper thread per process that calls the periodic work of the runs in progress.

A run's heartbeat (its beat, its lock's renewal, the flush of log lines that waited) registers
with the process's ``Ticker`` instead of starting a thread of its own. A process that runs
tasks one after another (a non-forking worker, the immediate backend, ``taskmanager run``)
starts the thread once; a run that ends before its first beat is due costs a dictionary entry.
A forking worker's work horse is a new process, so its run starts the thread (one, where a run
used to start two).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

from django.db import connections

logger = logging.getLogger(__name__)


class Ticker:
    """Calls each registered callback every ``period`` seconds, from one daemon thread."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._busy = threading.Lock()  # held while callbacks run
        self._keys = itertools.count()
        self._entries: dict[int, list] = {}  # key -> [due time, period, callback]
        self._thread: threading.Thread | None = None

    def add(self, period: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` every ``period`` seconds, the first time after one period."""
        if self._pid != os.getpid():
            # A forked child: the parent's thread and lock holders are not in this process.
            self._reset()
        with self._cond:
            key = next(self._keys)
            self._entries[key] = [time.monotonic() + period, period, callback]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="eztaskmanager-ticker", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return key

    def remove(self, key: int) -> None:
        """Stop calling ``key``'s callback; on return, none of its calls is still running."""
        with self._cond:
            self._entries.pop(key, None)
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            with self._busy:
                pass

    def _loop(self) -> None:
        while True:
            with self._cond:
                due = self._wait_for_due()
                self._busy.acquire()
            try:
                for callback in due:
                    try:
                        callback()
                    except Exception:  # one run's failure must not stop the others' beats
                        logger.exception("Periodic call %r failed", callback)
            finally:
                self._busy.release()

    def _wait_for_due(self) -> list[Callable[[], None]]:
        """Wait (holding the condition) until callbacks are due; return them."""
        while True:
            if not self._entries:
                # Idle: no database connection of this thread outlives the runs.
                connections.close_all()
                self._cond.wait()
                continue
            now = time.monotonic()
            due = []
            for entry in self._entries.values():
                if entry[0] <= now:
                    due.append(entry[2])
                    entry[0] = now + entry[1]
            if due:
                return due
            self._cond.wait(timeout=min(entry[0] for entry in self._entries.values()) - now)


TICKER = Ticker()
