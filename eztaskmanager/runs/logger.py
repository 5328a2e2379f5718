"""Logging for commands run as tasks: ``LoggerEnabledCommand`` and ``DatabaseLogHandler``.

During a run, ``run_management_command`` makes a ``DatabaseLogHandler`` current; a
``LoggerEnabledCommand`` then sends ``self.logger`` records to it, and its ``stdout`` / ``stderr``
writes become log lines too. Run from a shell, the same command logs to the console.
"""

from __future__ import annotations

import argparse
import contextvars
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

from django.core.management.base import BaseCommand
from django.db import connections, router, transaction
from django.db.models import F

from eztaskmanager import conf
from eztaskmanager.internals.django import db_datetime, in_atomic_block, quote_name
from eztaskmanager.models import LaunchReport, Log
from eztaskmanager.runs.dbretry import DATABASE_DOWN, reconnect, until_database_answers

T = TypeVar("T")

VERBOSITY_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}

_current_handler: contextvars.ContextVar[DatabaseLogHandler | None] = contextvars.ContextVar(
    "eztaskmanager_log_handler", default=None
)


def verbosity2loglevel(verbosity) -> int:
    """Logging level for a command's ``--verbosity`` (0.5.x mapping; WARNING when unknown)."""
    try:
        return VERBOSITY_LEVELS.get(int(verbosity), logging.WARNING)
    except (TypeError, ValueError):
        return logging.WARNING


def current_handler() -> DatabaseLogHandler | None:
    """The handler of the run in progress in this context, if any."""
    return _current_handler.get()


LOG_COLUMNS = ("launch_report_id", "timestamp", "level", "message", "lineno")


def insert_log_rows(rows: list[tuple]) -> None:
    """Insert log rows ``(report id, aware timestamp, level, message, line number)``.

    One ``executemany`` per batch: a single statement prepared once, whatever the backend's
    limit on parameters per query (which caps a multi-row ``bulk_create`` at 199 rows on SQLite).
    On PostgreSQL, where psycopg's ``executemany`` still runs one INSERT per row, the batch goes
    as one ``INSERT ... SELECT FROM UNNEST`` of a column array each, as ``bulk_create`` does there.
    """

    connection = connections[router.db_for_write(Log)]
    table = quote_name(connection, Log._meta.db_table)
    columns = ", ".join(quote_name(connection, c) for c in LOG_COLUMNS)
    if connection.vendor == "postgresql":
        types = [Log._meta.get_field(c).db_type(connection) for c in LOG_COLUMNS]
        arrays = ", ".join(f"%s::{db_type}[]" for db_type in types)
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays})"
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        return
    sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"
    with connection.cursor() as cursor:
        rows = [(r[0], db_datetime(connection, r[1]), r[2], r[3], r[4]) for r in rows]
        cursor.executemany(sql, rows)


class DatabaseLogHandler(logging.Handler):
    """Buffers log records of one report and writes them in batches (``insert_log_rows``).

    The buffer is written when it holds ``flush_lines`` records, when its oldest record is
    ``flush_seconds`` old (checked on each record and by a background timer, so a quiet command's
    lines still show up live), and always on ``flush()`` / ``close()``. Each write also updates
    the report's line, error and warning counters.
    """

    def __init__(
        self,
        launch_report_id: int,
        flush_lines: int | None = None,
        flush_seconds: float | None = None,
        level: int = logging.NOTSET,
        timer: bool = True,
    ):

        super().__init__(level)
        self.launch_report_id = launch_report_id
        self.flush_lines = flush_lines or conf.get("LOG_FLUSH_LINES")
        self.flush_seconds = (
            conf.get("LOG_FLUSH_SECONDS") if flush_seconds is None else flush_seconds
        )
        self.buffer: list = []
        self.oldest: float | None = None
        self.lineno = 0
        self.n_lines = self.n_errors = self.n_warnings = self.n_dropped = 0
        self.max_lines = conf.get("MAX_LOG_LINES")
        self._flushed_counts = (0, 0, 0, 0)
        self._retry_at = 0.0  # while the database is away, the next write is tried then
        self._closed = False
        self._stop = threading.Event()
        self._owner_connection = connections[router.db_for_write(Log)]
        self._timer: threading.Thread | None = None
        if timer and self.flush_seconds:
            self._timer = threading.Thread(
                target=self._flush_periodically, name="eztaskmanager-log-flush", daemon=True
            )
            self._timer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.ERROR:
            self.n_errors += 1
        elif record.levelno >= logging.WARNING:
            self.n_warnings += 1
        if self.max_lines is not None and self.lineno >= self.max_lines:
            self.n_dropped += 1  # counted (and in the result), not stored
            return
        self.lineno += 1
        self.n_lines += 1
        self.buffer.append(
            (
                self.launch_report_id,
                datetime.fromtimestamp(record.created, tz=UTC),
                record.levelname[:10],
                message,
                self.lineno,
            )
        )
        now = time.monotonic()
        if self.oldest is None:
            self.oldest = now
        if len(self.buffer) >= self.flush_lines or (
            self.flush_seconds and now - self.oldest >= self.flush_seconds
        ):
            self._try_write()

    def flush(self) -> None:
        with self.lock:
            self._write()

    def close(self) -> None:
        if self.n_dropped and not self._closed:
            with self.lock:
                self.lineno += 1
                self.n_lines += 1
                self.buffer.append(
                    (
                        self.launch_report_id,
                        datetime.now(tz=UTC),
                        "INFO",
                        f"{self.n_dropped} more line(s) not stored: the limit is "
                        f"{self.max_lines} lines per report.",
                        self.lineno,
                    )
                )
        self._stop.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=5)
        until_database_answers(self.flush, "storing a run's last log lines")
        self._closed = True
        super().close()

    def _try_write(self) -> None:
        """Write the buffer now; while the database is away, keep the lines in memory and try
        again a second later."""
        if time.monotonic() < self._retry_at:
            return
        try:
            self._write()
        except DATABASE_DOWN as exc:
            if not self._retry_at:
                logging.getLogger(__name__).warning("Log lines kept in memory: %s", exc)
            self._retry_at = time.monotonic() + 1.0
            reconnect()
        else:
            self._retry_at = 0.0

    def _write(self) -> None:
        """Write the buffer and the counters; the caller holds ``self.lock``."""

        counts = (self.n_lines, self.n_errors, self.n_warnings, self.n_dropped)
        if not self.buffer and counts == self._flushed_counts:
            return
        batch = self.buffer
        done = self._flushed_counts
        # One transaction: lines and counters appear together, and SQLite syncs once. On an
        # error the lines stay in the buffer for the next attempt.
        with transaction.atomic(using=router.db_for_write(LaunchReport)):
            if batch:
                insert_log_rows(batch)
            LaunchReport.objects.filter(pk=self.launch_report_id).update(
                n_lines=F("n_lines") + (counts[0] - done[0]),
                n_errors=F("n_errors") + (counts[1] - done[1]),
                n_warnings=F("n_warnings") + (counts[2] - done[2]),
                n_dropped=F("n_dropped") + (counts[3] - done[3]),
            )
        del self.buffer[: len(batch)]
        self.oldest = time.monotonic() if self.buffer else None
        self._flushed_counts = counts

    def flush_if_due(self) -> None:
        """From another thread: write the buffer if its oldest record waited ``flush_seconds``."""
        if in_atomic_block(self._owner_connection):
            # The report row may not be committed yet: rows written from this thread's
            # connection could not refer to it. The run's own thread flushes instead.
            return
        with self.lock:
            if self.oldest is not None and time.monotonic() - self.oldest >= self.flush_seconds:
                try:
                    self._try_write()
                except Exception:  # never let the timer kill the run
                    logging.getLogger(__name__).exception("Log flush failed")

    def _flush_periodically(self) -> None:
        try:
            # Waking four times a period keeps a line's wait under 1.25 periods.
            while not self._stop.wait(self.flush_seconds / 4):
                self.flush_if_due()
        finally:
            connections.close_all()


def write_row_now(handler: DatabaseLogHandler, level: str, save) -> int:
    """Give a row saved outside ``handler``'s buffer the next line number, and ``save()`` it now.

    For ``Log`` rows saved through the ORM during the run. The buffer is written first, so line
    numbers stay in order and the stored counters never count a line not yet written; the row
    counts as an error or a warning by its level, as a record would. Returns the line number,
    which ``save`` must store.
    """
    with handler.lock:
        handler._write()
        before = (handler.lineno, handler.n_lines, handler.n_errors, handler.n_warnings)
        handler.lineno += 1
        handler.n_lines += 1
        counter = Log.counter_of(level)
        if counter:
            setattr(handler, counter, getattr(handler, counter) + 1)
        try:
            with transaction.atomic(using=handler._owner_connection.alias):
                save(handler.lineno)
                handler._write()
        except BaseException:
            handler.lineno, handler.n_lines, handler.n_errors, handler.n_warnings = before
            raise
        return handler.lineno


class LogWriter:
    """A file-like object turning each written line into a log record."""

    def __init__(self, logger: logging.Logger, level: int):
        self.logger = logger
        self.level = level
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.logger.log(self.level, line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.logger.log(self.level, self.pending.rstrip())
        self.pending = ""

    def isatty(self) -> bool:
        return False


def run_logger(name: str) -> logging.Logger:
    """The logger of a run: writes to the current report, not to the root handlers."""
    logger = logging.getLogger(f"eztaskmanager.run.{name}")
    logger.propagate = False
    return logger


class DefaultVerbosity(int):
    """Django's default ``--verbosity`` (1), told apart from a ``--verbosity 1`` given."""


# A task run keeps INFO records unless the task gives a --verbosity of its own.
RUN_LEVEL = logging.INFO


def command_level(verbosity, in_run: bool) -> int:
    """The level of ``self.logger``: ``RUN_LEVEL`` in a task run that gives no ``--verbosity``,
    else the level of the verbosity."""
    if in_run and isinstance(verbosity, DefaultVerbosity):
        return RUN_LEVEL
    return verbosity2loglevel(verbosity)


class LoggerEnabledCommand(BaseCommand):
    """A management command with ``self.logger`` and ``self.progress()``.

    Inside a task run, log records and ``self.stdout`` / ``self.stderr`` lines are stored as the
    report's log (stdout lines at INFO, stderr lines at ERROR); from a shell they go to the
    console. ``--verbosity`` sets the level: 0 ERROR, 1 WARNING, 2 INFO, 3 DEBUG; a task run
    that gives none keeps INFO, a shell WARNING.
    """

    logger: logging.Logger | None = None
    progress_min_interval = 0.5

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # 0.5.x passed the report through this option; it is accepted and ignored.
        parser.add_argument("--launch_report_id", type=int, nargs="?", help=argparse.SUPPRESS)
        parser.set_defaults(verbosity=DefaultVerbosity(1))  # still 1 for the command's code
        return parser

    def execute(self, *args, **options):
        options.pop("launch_report_id", None)
        handler = current_handler()
        name = self.__class__.__module__.rsplit(".", 1)[-1]
        if handler is not None:
            self.logger = run_logger(name)
            self.logger.handlers = [handler]
            if options.get("stdout") is None:
                options["stdout"] = LogWriter(self.logger, logging.INFO)
            if options.get("stderr") is None:
                options["stderr"] = LogWriter(self.logger, logging.ERROR)
        else:
            self.logger = logging.getLogger(f"eztaskmanager.command.{name}")
            self.logger.propagate = False
            console = logging.StreamHandler(options.get("stderr") or sys.stderr)
            console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            self.logger.handlers = [console]
        self.logger.setLevel(command_level(options.get("verbosity", 1), handler is not None))
        try:
            return super().execute(*args, **options)
        finally:
            for stream in (options.get("stdout"), options.get("stderr")):
                if isinstance(stream, LogWriter):
                    stream.flush()

    def progress(self, done: int, total: int | None = None) -> None:
        """Record how far the run is (``done`` of ``total``); stored at most twice a second."""
        record_progress(done, total, self.progress_min_interval)

    def track(self, iterable: Iterable[T], total: int | None = None) -> Iterator[T]:
        """Yield from ``iterable``, recording progress as it goes."""
        return track(iterable, total, self.progress_min_interval)


def record_progress(done: int, total: int | None = None, min_interval: float = 0.5) -> None:
    """Record how far the run in progress in this context is (``done`` of ``total``), at most
    once every ``min_interval`` seconds and always when it reaches ``total``; outside a run,
    nothing. What ``LoggerEnabledCommand.progress`` and a ``@task`` function's
    ``eztaskmanager.tasks.progress`` do."""
    handler = current_handler()
    if handler is None:
        return
    now = time.monotonic()
    finished = total is not None and done >= total
    if not finished and now - getattr(handler, "progress_at", 0.0) < min_interval:
        return
    handler.progress_at = now
    try:
        LaunchReport.objects.filter(pk=handler.launch_report_id).update(
            progress_done=max(int(done), 0),
            progress_total=None if total is None else max(int(total), 0),
        )
    except DATABASE_DOWN:  # progress is a hint: the run must not fail for it
        reconnect()


def track(iterable: Iterable[T], total: int | None = None, min_interval: float = 0.5):
    """Yield from ``iterable``, recording the run's progress as it goes."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    done = 0
    record_progress(0, total, min_interval)
    for item in iterable:
        yield item
        done += 1
        record_progress(done, total, min_interval)
