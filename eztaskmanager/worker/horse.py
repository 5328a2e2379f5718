"""What a resident work horse (``WarmTaskWorker``) resets between two runs, and when it retires.

A forked work horse ends with its run: whatever the run changed in the process goes with it. A
resident horse runs job after job, so around each run it puts back what a run may leave behind:

* the database connections: each is kept from one run to the next (a forked horse pays a new
  connection per run), unless the run left it in a transaction or with autocommit changed, a
  statement of the run failed on it (any database error, even one the run caught and followed
  by a good commit), or it outlived a positive ``CONN_MAX_AGE``; ``CONN_HEALTH_CHECKS``
  checks a kept one at the next run's first query, as at a request's, and a run's first read
  is tried again on a new connection when the kept one broke (a database restart);
* the handlers of every logger (added during the run: removed and closed) and the root logger's
  level;
* the active language (``translation``), the current time zone (``timezone``), ``sys.argv`` and
  the working directory;
* the context variables of the run (the current run's log handler...): each run has a context
  of its own (``HookedWorker``).

It retires (the worker forks a new one for the next run) after a run that left a transaction
open, after a run that reached its timeout, after ``EZTASKMANAGER_HORSE_MAX_RUNS`` runs, and
when its resident memory has grown past ``EZTASKMANAGER_HORSE_MAX_MEMORY_MB``.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field

from django.db import DatabaseError, connections
from django.utils import timezone, translation

from eztaskmanager import conf
from eztaskmanager.internals import django as django_internals

logger = logging.getLogger("eztaskmanager.worker")

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_memory_mb(pid: int | str = "self") -> float | None:
    """The resident memory of process ``pid`` (this one by default) read from
    ``/proc/<pid>/statm``, in MB; None where unknown (another system, a process gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * PAGE_SIZE / (1024 * 1024)


def _loggers() -> list[logging.Logger]:
    found = [logging.getLogger()]
    for item in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(item, logging.Logger):
            found.append(item)
    return found


@dataclass
class ProcessState:
    """What a run may change in its process, taken before the run and put back after it."""

    handlers: dict[str, list[logging.Handler]] = field(default_factory=dict)
    root_level: int = logging.WARNING
    language: str | None = None
    tz: object = None
    argv: list[str] = field(default_factory=list)
    cwd: str | None = None

    @classmethod
    def take(cls) -> ProcessState:
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        return cls(
            handlers={lg.name: list(lg.handlers) for lg in _loggers()},
            root_level=logging.getLogger().level,
            language=translation.get_language(),
            tz=timezone.get_current_timezone(),
            argv=list(sys.argv),
            cwd=cwd,
        )

    def restore(self) -> None:
        for lg in _loggers():
            kept = self.handlers.get(lg.name, [])
            for handler in list(lg.handlers):
                if handler not in kept:
                    lg.removeHandler(handler)
                    try:
                        handler.close()
                    except Exception:  # noqa: BLE001 -- a broken handler must not stop the horse
                        pass
            for handler in kept:
                if handler not in lg.handlers:
                    lg.addHandler(handler)
        logging.getLogger().setLevel(self.root_level)
        translation.deactivate()
        if translation.get_language() != self.language and self.language is not None:
            translation.activate(self.language)
        timezone.deactivate()
        if timezone.get_current_timezone() != self.tz:
            timezone.activate(self.tz)
        sys.argv[:] = self.argv
        if self.cwd is not None:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass


def open_transaction() -> bool:
    """Whether a connection of this process is still inside a transaction."""
    return any(
        django_internals.in_atomic_block(conn) or not conn.get_autocommit()
        for conn in django_internals.open_connections()
        if conn.connection is not None
    )


class ErrorWatch:
    """Notes which database aliases a statement failed on during a run: an execute wrapper
    (Django's ``connection.execute_wrapper()``) on each connection of this thread, from
    ``start()`` to ``stop()``."""

    def __init__(self):
        self.failed: set[str] = set()
        self._installed = ExitStack()

    def _wrapper(self, alias: str):
        def watch(execute, sql, params, many, context):
            try:
                return execute(sql, params, many, context)
            except DatabaseError:
                self.failed.add(alias)
                raise

        return watch

    def start(self) -> None:
        self.failed = set()
        for conn in connections.all():
            self._installed.enter_context(conn.execute_wrapper(self._wrapper(conn.alias)))

    def stop(self) -> set[str]:
        self._installed.close()
        return self.failed


def keep_or_close_connections(failed: set[str] = frozenset()) -> None:
    """Between two runs: close each connection that may not serve the next run; keep the rest.

    Closed: one in a transaction, one a statement failed on (``failed``, from ``ErrorWatch``),
    one Django would close between two requests for another reason than ``CONN_MAX_AGE = 0``
    (``django_internals.connection_worn``). ``CONN_MAX_AGE = 0`` does not close it: that
    setting is about requests, and a connection per run is the cost this horse saves. A kept
    one is checked at its next use when ``CONN_HEALTH_CHECKS`` is on, as at a request's first
    query; without it, a connection that broke while the horse waited fails the run's first
    read, which ``run_task`` tries again on a new connection.
    """
    for conn in django_internals.open_connections():
        if conn.connection is None:
            continue
        django_internals.recheck_at_next_use(conn)
        if (
            conn.alias in failed
            or django_internals.in_atomic_block(conn)
            or django_internals.connection_worn(conn)
        ):
            conn.close()


class HorseKeeper:
    """The resident horse's side of ``WarmTaskWorker``: before and after each run."""

    def __init__(self):
        self.runs = 0
        self.state: ProcessState | None = None
        self.max_runs = conf.get("HORSE_MAX_RUNS")
        self.max_memory_mb = conf.get("HORSE_MAX_MEMORY_MB")
        self.errors = ErrorWatch()

    def before_run(self) -> None:
        keep_or_close_connections()
        self.state = ProcessState.take()
        self.errors.start()

    def after_run(self, timeout: float | None, elapsed: float) -> str | None:
        """Put the process back; return why the horse must retire now, or None."""
        self.runs += 1
        failed = self.errors.stop()
        why = None
        if open_transaction():
            why = "a run left a transaction open"
        if self.state is not None:
            self.state.restore()
            self.state = None
        if why is None:
            keep_or_close_connections(failed)
        if why is None and timeout is not None and 0 < timeout <= elapsed:
            why = "a run reached its timeout"
        if why is None and self.max_runs and self.runs >= self.max_runs:
            why = f"{self.runs} runs done"
        if why is None and self.max_memory_mb:
            memory = resident_memory_mb()
            if memory is not None and memory > self.max_memory_mb:
                why = f"{memory:.0f} MB resident, past {self.max_memory_mb} MB"
        return why
