"""Warm a forking worker once, so that each work horse starts its run with warm caches.

A forking RQ worker runs every job in a fresh child process (the work horse). Whatever the
parent never did, each horse does again: import the command's module, import Django's SQL
compiler, fill the models' lazily computed metadata, build the notification handlers. Done once
in the parent before it forks, all of that is inherited: a horse copies the pages it touches
(copy on write), but computes nothing again.

``Warmer.before_fork()`` is what ``TaskWorker`` calls before each fork: it warms the parent on
the first call and again every ``WARM_EVERY_SECONDS`` (so a task added later gets its command
imported too; until then its runs work as before, only a few milliseconds slower), closes the
parent's database connections (a horse must never share the parent's), and freezes the garbage
collector's view of the parent's objects, so that the horse's collections skip them and do not
touch (and so copy) their pages.

``EZTASKMANAGER_WARM_WORKER = False`` turns the warm-up off: a project whose command modules
open files or sockets when they are imported may not want those inherited by every horse.
"""

from __future__ import annotations

import gc
import logging
import time

from django.db import DatabaseError, connections
from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.backends import get_backend
from eztaskmanager.internals.django import insert_sql, load_command_class
from eztaskmanager.models import AppCommand, LaunchReport, Task
from eztaskmanager.notifications import build_handler
from eztaskmanager.operations.commands import available_commands
from eztaskmanager.records import taskstate
from eztaskmanager.runs import OUTCOME_FIELDS

logger = logging.getLogger(__name__)

WARM_EVERY_SECONDS = 300.0
NO_SUCH_ID = -1  # writes aimed at this id touch no row, but compile and run like the real ones


def commands_in_use() -> list[tuple[str, str]]:
    """``(name, app name)`` of the commands that tasks run and that may run here.

    The settings and the installed code decide what may run (``available_commands``); a row
    naming anything else is ignored, as the run itself would refuse it.
    """
    allowed = available_commands()
    rows = AppCommand.objects.filter(active=True, task__isnull=False).values_list(
        "name", "app_name"
    )
    return sorted({(name, app) for name, app in rows if allowed.get(name) == app})


def import_commands(commands: list[tuple[str, str]]) -> int:
    """Import each command's module and build its parser once; return how many loaded."""
    loaded = 0
    for name, app_name in commands:
        try:
            load_command_class(app_name, name).create_parser("manage.py", name)
        except Exception as exc:  # the run reports it; the warm-up only skips it
            logger.warning("Warm-up: command %s (%s) not loaded: %s", name, app_name, exc)
            continue
        loaded += 1
    return loaded


def prime_orm() -> None:
    """Run once the statements a run runs, so that their SQL compiler and metadata are ready.

    Nothing is written: reads, updates and deletes aim at an id no row has, and the report's
    INSERT is compiled, not run (a rolled-back one would still take a number of the sequence).
    """
    Task.objects.select_related("command").filter(pk=NO_SUCH_ID).first()
    task = Task(pk=NO_SUCH_ID, name="warm-up")
    now = timezone.now()
    report = LaunchReport(task=task, started_at=now, heartbeat_at=now, worker="warm-up")
    insert_sql(report)
    taskstate.started(NO_SUCH_ID)
    outcome = {name: getattr(report, name) for name in OUTCOME_FIELDS}
    LaunchReport.objects.filter(pk=NO_SUCH_ID).update(**outcome)
    # A task without a scheduled job: no backend call, only the task's UPDATE.
    taskstate.run_ended(task, report, False, taskstate.after_run(task, False, get_backend()))
    task.prune_reports()


def build_notification_handlers() -> None:
    for name, spec in (conf.get("NOTIFICATION_HANDLERS") or {}).items():
        try:
            build_handler(spec)
        except Exception as exc:  # the run records the failure in its report
            logger.warning("Warm-up: notification handler %s not built: %s", name, exc)


def warm_up() -> None:
    """Do here, once, what every run would otherwise do in its own work horse."""
    try:
        import_commands(commands_in_use())
        prime_orm()
    except DatabaseError as exc:  # runs still work, only without the head start
        logger.warning("Warm-up: database not reachable (%s); runs start cold", exc)
    build_notification_handlers()


class Warmer:
    """Keeps a forking worker warm: ``before_fork()`` before each work horse is forked."""

    def __init__(self, every: float = WARM_EVERY_SECONDS):
        self.every = every
        self.warmed_at: float | None = None

    def due(self) -> bool:
        if not conf.get("WARM_WORKER"):
            return False
        return self.warmed_at is None or time.monotonic() - self.warmed_at >= self.every

    def before_fork(self) -> None:
        if self.due():
            started = time.monotonic()
            try:
                warm_up()
            except Exception:  # a failed warm-up must never keep the worker from working
                logger.exception("Warm-up failed; runs start cold")
            self.warmed_at = time.monotonic()
            logger.debug("Warm-up took %.1f ms", (self.warmed_at - started) * 1000)
            gc.collect()
        # The horse opens its own connections: one inherited from here would be shared.
        connections.close_all()
        gc.freeze()
