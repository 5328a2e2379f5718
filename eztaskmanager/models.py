"""Models of django-eztaskmanager: commands, tasks, run reports and their log lines.

The tables and columns of 0.5.x are kept as they were; what this version adds comes in later
migrations. No I/O to Redis happens here: the queue service does that.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import F, Max, Subquery
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from eztaskmanager import conf
from eztaskmanager.core import arguments, bounds, functions, policy, schedules
from eztaskmanager.internals.django import load_command_class
from eztaskmanager.internals.statements import raw_delete


def configured_queues() -> list[str]:
    """The queues django-rq knows (``RQ_QUEUES``): the ones a task may name."""
    return list(getattr(settings, "RQ_QUEUES", {}) or {})


class AppCommand(models.Model):
    """A management command, or a ``@task`` function named by its dotted path, that tasks can
    run (``core.functions``)."""

    name = models.CharField(max_length=255)
    app_name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("Command")
        verbose_name_plural = _("Commands")

    def __str__(self) -> str:
        return f"{self.app_name}: {self.name}"

    @property
    def is_function(self) -> bool:
        """Whether this row names a ``@task`` function rather than a management command."""
        return functions.is_function_name(self.name)

    def get_command_class(self):
        """Load the command (a BaseCommand instance)."""
        return load_command_class(app_name=self.app_name, name=self.name)

    def get_function(self):
        """Load the ``@task`` function (a ``Task``); only for a row the policy allows."""
        return functions.load(self.name)

    def get_parser(self):
        """The command's own argparse parser (a function has none: ValueError)."""
        if self.is_function:
            raise ValueError(f"{self.name} is a function: its arguments are JSON")
        return self.get_command_class().create_parser("manage.py", self.name)

    @property
    def help_text(self) -> str:
        """The command's ``--help`` text, or a function's signature and docstring."""
        if self.is_function:
            return functions.help_text(self.get_function())
        output = io.StringIO()
        self.get_parser().print_help(file=output)
        return output.getvalue()


class TaskCategory(models.Model):
    """A group of tasks."""

    name = models.CharField(max_length=255)

    class Meta:
        verbose_name = _("Task category")
        verbose_name_plural = _("task categories")

    def __str__(self) -> str:
        return self.name


class LaunchReport(models.Model):
    """One run of a task: its result, times and log."""

    RESULT_NO = ""
    RESULT_OK = "ok"
    RESULT_FAILED = "failed"
    RESULT_ERRORS = "errors"
    RESULT_WARNINGS = "warnings"
    RESULT_CHOICES = (
        (RESULT_NO, "---"),
        (RESULT_OK, _("ok")),
        (RESULT_FAILED, _("failed")),
        (RESULT_ERRORS, _("errors")),
        (RESULT_WARNINGS, _("warnings")),
    )
    # Results from mildest to most severe: the one order (``reporting.RESULTS``) that
    # notifications, figures and pages read.
    RESULT_LEVELS = (RESULT_OK, RESULT_WARNINGS, RESULT_ERRORS, RESULT_FAILED)
    # The state of a run with no result yet: launched and waiting for a worker, or running.
    STATE_QUEUED = "queued"
    STATE_RUNNING = "running"

    task = models.ForeignKey("Task", on_delete=models.CASCADE)
    invocation_result = models.CharField(
        _("result"), max_length=20, choices=RESULT_CHOICES, default=RESULT_NO
    )
    invocation_datetime = models.DateTimeField(_("launched at"), auto_now_add=True)

    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration = models.FloatField(_("duration (s)"), null=True, blank=True)
    rq_job_id = models.CharField(_("RQ job id"), max_length=64, blank=True, default="")
    failure_reason = models.TextField(_("failure reason"), blank=True, default="")
    n_lines = models.PositiveIntegerField(_("log lines"), default=0)
    n_errors = models.PositiveIntegerField(_("errors"), default=0)
    n_warnings = models.PositiveIntegerField(_("warnings"), default=0)
    progress_done = models.PositiveBigIntegerField(null=True, blank=True)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    # Renewed by the running process; a run whose heartbeat stops is found and closed.
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    max_attempts = models.PositiveSmallIntegerField(_("attempts allowed"), default=1)
    stop_requested_by = models.CharField(
        _("stop requested by"), max_length=150, blank=True, default=""
    )
    n_dropped = models.PositiveIntegerField(_("log lines not stored"), default=0)
    # Set when the run was launched with other arguments than its task's ("run once with ...").
    arguments = models.TextField(
        _("arguments"), null=True, blank=True, help_text=_("The arguments this run was given.")
    )
    triggered_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_up_runs",
        verbose_name=_("triggered by"),
        help_text=_("The run whose end launched this one, for a follow-up task."),
    )
    # What the launch authorised, recorded when it was launched: the run executes these, not
    # what the task says when a worker takes it. Reports from before they were recorded have
    # no command name; their runs read the task.
    command = models.ForeignKey(
        AppCommand,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("command"),
        help_text=_("The command this run was launched with."),
    )
    command_name = models.CharField(_("command name"), max_length=255, blank=True, default="")
    run_arguments = models.TextField(
        _("arguments run"),
        null=True,
        blank=True,
        help_text=_("The arguments this run was launched with."),
    )
    legacy_arguments = models.BooleanField(
        _("0.5.x argument rule"),
        default=False,
        help_text=_("The run read its arguments as version 0.5 did."),
    )
    # How its retries wait, and the queue its launch went to: recorded with the command, so a
    # retry waits and goes where the launch said.
    retry_delays = models.CharField(_("retry delays (s)"), max_length=200, blank=True, default="")
    retry_exponential = models.BooleanField(_("exponential backoff"), default=False)
    queue = models.CharField(_("queue"), max_length=100, blank=True, default="")
    # Whether a retry of this run was planned (set as its outcome is announced): a run with a
    # retry planned is not its launch's last word, and its follow-ups wait for the last attempt.
    retry_planned = models.BooleanField(_("retry planned"), null=True, blank=True)
    # How the run ended (see ``ending``), stored with its result in the same commit.
    ENDING_FINISHED = "finished"
    ENDING_FAILED = "failed"
    ENDING_TIMED_OUT = "timed out"
    ENDING_REFUSED = "refused"
    ENDING_SKIPPED = "skipped"
    ENDING_STOPPED = "stopped"
    ENDING_WORKER_DIED = "worker died"
    ENDING_INTERRUPTED = "interrupted"
    ENDING_CHOICES = (
        ("", "---"),
        (ENDING_FINISHED, _("finished")),
        (ENDING_FAILED, _("failed")),
        (ENDING_TIMED_OUT, _("timed out")),
        (ENDING_REFUSED, _("refused")),
        (ENDING_SKIPPED, _("skipped: already running")),
        (ENDING_STOPPED, _("stopped")),
        (ENDING_WORKER_DIED, _("worker died")),
        (ENDING_INTERRUPTED, _("interrupted")),
    )
    ending = models.CharField(
        _("ending"), max_length=20, choices=ENDING_CHOICES, blank=True, default=""
    )
    # Set when the run was ended where its reactions may not run (a web request): the
    # scheduler's next pass sends its notifications, its retry and its follow-ups.
    reactions_pending = models.BooleanField(_("reactions pending"), default=False)
    # A call of a ``@task`` function through Django's task API (``eztaskmanager.tasks``): the
    # id of its ``TaskResult`` (every attempt of the call has it), what the function returned
    # as JSON text (a text column: a JSONField makes Django's system checks open a database
    # connection on SQLite, so a command could not even say that the database is away) and
    # the exception that ended an attempt.
    call_id = models.CharField(_("task result id"), max_length=64, blank=True, default="")
    return_value = models.TextField(_("return value"), null=True, blank=True)
    exception_class = models.CharField(_("exception"), max_length=255, blank=True, default="")
    exception_traceback = models.TextField(_("traceback"), blank=True, default="")
    # The earliest time a deferred launch may run (a call's ``run_after``): its job waits in
    # the scheduler until then, and the sweep sends a lost one back there, not to the queue.
    run_after = models.DateTimeField(_("not before"), null=True, blank=True)

    class Meta:
        verbose_name = _("Launch report")
        verbose_name_plural = _("Launch reports")
        indexes = [
            models.Index(fields=["task", "-id"], name="eztm_report_task_id"),
            # A TaskResult is read by its id (a partial index: commands' runs have none).
            models.Index(
                fields=["call_id"],
                name="eztm_report_call_id",
                condition=~models.Q(call_id=""),
            ),
            # The scheduler's pass looks for runs whose reactions wait (a few, or none).
            models.Index(
                fields=["id"],
                name="eztm_report_reactions",
                condition=models.Q(reactions_pending=True),
            ),
        ]

    def __str__(self) -> str:
        # As 0.5.x wrote it: projects may show or parse it.
        return f"LaunchReport {self.task.name} {self.invocation_result} {self.invocation_datetime}"

    # 0.5.x's ``get_notification_handlers()``: ``compat.handlers`` registers its function here
    # when the app is ready (``apps.py``), so that this module imports nothing above it.
    legacy_handlers = None

    @classmethod
    def get_notification_handlers(cls) -> dict:
        """Deprecated (0.5.x): the configured notification handlers by name."""
        if cls.legacy_handlers is None:
            raise RuntimeError("eztaskmanager is not ready: add it to INSTALLED_APPS.")
        return cls.legacy_handlers()

    def number_line(self, log: Log, save) -> None:
        """Give the new ``log`` row of this report the next line number and ``save()`` it,
        counted in this report's counters.

        During a run of this report in this context, the run's log handler numbers it after the
        lines it holds (``Log.run_writer``, registered by ``services.logger``); otherwise this
        report's row is locked while the number is taken, so two writers never take the same one.
        """
        writer = Log.run_writer
        if writer is not None and writer(log, save):
            return
        counters = {"n_lines": F("n_lines") + 1}
        if log.level in Log.ERROR_LEVELS:
            counters["n_errors"] = F("n_errors") + 1
        elif log.level == "WARNING":
            counters["n_warnings"] = F("n_warnings") + 1
        with transaction.atomic(using=router.db_for_write(Log)):
            reports = LaunchReport.objects.filter(pk=self.pk)
            list(reports.select_for_update().values("pk"))
            siblings = Log.objects.filter(launch_report_id=self.pk)
            log.lineno = (siblings.aggregate(last=Max("lineno"))["last"] or 0) + 1
            save()
            reports.update(**counters)

    @property
    def is_finished(self) -> bool:
        return self.invocation_result != self.RESULT_NO

    @property
    def is_queued(self) -> bool:
        """Accepted, on its way to a worker: no worker has started it yet."""
        return self.started_at is None and not self.is_finished

    @property
    def state(self) -> str:
        """``queued``, ``running`` or the result."""
        if self.is_queued:
            return self.STATE_QUEUED
        return self.invocation_result or self.STATE_RUNNING

    @classmethod
    def state_label(cls, state: str | None) -> str:
        """The translated word for a ``state`` or result ("running" for none)."""
        if state == cls.STATE_QUEUED:
            return gettext("queued")
        if not state or state == cls.STATE_RUNNING:
            return gettext("running")
        return str(dict(cls.RESULT_CHOICES).get(state, state))

    @property
    def is_recorded(self) -> bool:
        """Whether the launch recorded what it runs (every launch since migration 0015)."""
        return bool(self.command_name)

    @property
    def ran_command_name(self) -> str:
        """The command of this run: the recorded one, else the task's."""
        if self.is_recorded:
            return self.command_name
        return self.task.command.name

    @property
    def ran_arguments(self) -> str:
        """The arguments of this run as text: the recorded ones, else the task's (or the
        one-off arguments of a report from before they were recorded)."""
        if self.is_recorded:
            return self.run_arguments or ""
        if self.arguments is not None:
            return self.arguments
        return self.task.arguments or ""

    def record_launch(self, task: Task, arguments: str | None = None) -> None:
        """Set what this launch of ``task`` runs: its command and its arguments as they are
        now, or the one-off ``arguments`` (read by the current rule)."""
        self.command = task.command
        self.command_name = task.command.name
        if task.command.is_function and not self.call_id:  # every call has its result id
            self.call_id = functions.new_call_id()
        self.retry_delays = task.retry_delays or ""
        self.retry_exponential = task.retry_exponential
        self.queue = task.queue or ""
        if arguments is None:
            self.run_arguments = task.arguments or ""
            self.legacy_arguments = task.legacy_arguments
        else:
            self.run_arguments = arguments
            self.legacy_arguments = False

    def copy_launch(self, other: LaunchReport) -> None:
        """Run what ``other`` ran (a retry runs what its first attempt was launched with)."""
        self.call_id = other.call_id
        self.command_id = other.command_id
        self.command_name = other.command_name
        self.run_arguments = other.run_arguments
        self.legacy_arguments = other.legacy_arguments
        self.retry_delays = other.retry_delays
        self.retry_exponential = other.retry_exponential
        self.queue = other.queue

    def retry_delay(self, retry: int, task: Task) -> int:
        """Seconds before retry number ``retry`` of this run: by the delays its launch recorded
        (``task``'s, for a report from before they were recorded)."""
        if not self.is_recorded:
            return task.retry_delay(retry)
        recorded = Task(retry_delays=self.retry_delays, retry_exponential=self.retry_exponential)
        return recorded.retry_delay(retry)

    @property
    def n_log_lines(self) -> int:
        return self.n_lines

    @property
    def n_log_errors(self) -> int:
        return self.n_errors

    @property
    def n_log_warnings(self) -> int:
        return self.n_warnings

    @property
    def attempt_label(self) -> str:
        return f"attempt {self.attempt} of {self.max_attempts}" if self.max_attempts > 1 else ""

    @property
    def progress_percent(self) -> float | None:
        if not self.progress_total:
            return None
        return max(0.0, min(100.0, 100.0 * (self.progress_done or 0) / self.progress_total))

    def derive_result(self) -> str:
        """Result from the logged levels, for a run that did not fail."""
        if self.n_errors:
            return self.RESULT_ERRORS
        if self.n_warnings:
            return self.RESULT_WARNINGS
        return self.RESULT_OK

    def iter_log_lines(self, chunk_size: int = 2000) -> Iterator[str]:
        """Every formatted log line, read in chunks by line number (bounded memory)."""
        last = 0
        while True:
            chunk = list(self.logs.filter(lineno__gt=last).order_by("lineno")[:chunk_size])
            if not chunk:
                return
            for log in chunk:
                yield log.formatted()
            last = chunk[-1].lineno

    def get_log_lines(self) -> list[str]:
        """All formatted log lines (prefer ``iter_log_lines`` for big logs)."""
        return list(self.iter_log_lines())

    def read_log_lines(self, offset: int, limit: int | None = None) -> tuple[list[str], int]:
        """Lines after the first ``offset`` ones, and the total number of lines.

        Answered from the (report, line number) index: the cost does not grow with ``offset``.
        """
        logs = self.logs.filter(lineno__gt=max(int(offset), 0)).order_by("lineno")
        if limit is not None:
            logs = logs[:limit]
        return [log.formatted() for log in logs], self.n_lines

    def log_tail(self, n_lines: int | None = None) -> str:
        """The last ``n_lines`` lines as text, preceded by how many are hidden."""
        if n_lines is None:
            n_lines = conf.get("N_LINES_IN_REPORT_LOG")
        logs = list(self.logs.order_by("-lineno")[:n_lines])
        lines = []
        hidden = self.n_lines - len(logs)
        if hidden > 0:
            lines.append(f"{hidden} lines hidden ...")
        lines.extend(log.formatted() for log in reversed(logs))
        return "\n".join(lines)

    def append_line(self, level: str, message: str, count_level: bool = False) -> None:
        """Add one line after the last one of this report's log (safe with other writers).

        The line counts in ``n_lines``; with ``count_level`` it also counts as an error or a
        warning, which the result is derived from.
        """
        self.append_lines([(level, message, count_level)])

    def append_lines(self, lines) -> None:
        """Add ``lines`` (``(level, message, count_level)`` each) after the last line of this
        report's log, in one write: one row lock, one read of the last number."""
        lines = list(lines)
        if not lines:
            return
        added = self.line_counts(lines)
        with transaction.atomic():
            # Lock the report row: two writers never take the same line number.
            list(LaunchReport.objects.select_for_update().filter(pk=self.pk).values("pk"))
            self.insert_lines(lines)
            LaunchReport.objects.filter(pk=self.pk).update(
                **{name: F(name) + n for name, n in added.items() if n}
            )
        for name, n in added.items():
            setattr(self, name, getattr(self, name) + n)

    @staticmethod
    def line_counts(lines) -> dict[str, int]:
        """What ``lines`` add to ``n_lines``, ``n_errors`` and ``n_warnings``."""
        added = {"n_lines": len(lines), "n_errors": 0, "n_warnings": 0}
        for level, _message, count_level in lines:
            counter = Log.counter_of(level) if count_level else None
            if counter:
                added[counter] += 1
        return added

    def insert_lines(self, lines) -> None:
        """Insert ``lines`` after the last one; the caller holds the report's row (a lock or
        its own conditional update) and counts them."""
        if not lines:
            return
        last = self.logs.aggregate(last=Max("lineno"))["last"] or 0
        Log.objects.bulk_create(
            Log(launch_report_id=self.pk, level=level, message=message, lineno=last + n)
            for n, (level, message, _count) in enumerate(lines, start=1)
        )

    def delete(self, *args, **kwargs):
        task = self.task
        result = super().delete(*args, **kwargs)
        task.compute_cache()
        return result


class Log(models.Model):
    """One log line of a run."""

    launch_report = models.ForeignKey(LaunchReport, on_delete=models.CASCADE, related_name="logs")
    timestamp = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10)
    message = models.TextField()
    # Position of the line in its report, from 1; the key of incremental reads.
    lineno = models.PositiveIntegerField(null=True, blank=True)

    ERROR_LEVELS = ("ERROR", "CRITICAL")
    WARNING_LEVELS = ("WARNING", *ERROR_LEVELS)  # a warning or worse

    # ``(log, save) -> bool``: during a run in this context, numbers and saves a row of that
    # run's report and returns True. ``services.logger`` registers it when the app is ready.
    run_writer = None

    class Meta:
        ordering = ["lineno", "id"]
        indexes = [
            models.Index(fields=["launch_report", "lineno"], name="eztm_log_report_lineno"),
            # The live viewer's level filter (warnings / errors) reads this one.
            models.Index(fields=["launch_report", "level", "lineno"], name="eztm_log_report_level"),
        ]

    def __str__(self) -> str:
        return f"Log {self.id}: {self.level} at {self.timestamp}"

    def save(self, *args, **kwargs):
        """Save; a new line without a line number (``Log.objects.create(...)``, as 0.5.x's
        handler and projects' own handlers wrote) gets the next one and is counted in its
        report's counters. ``DatabaseLogHandler`` writes its batches without this method."""
        if self.pk is None and self.lineno is None and self.launch_report_id is not None:
            report = LaunchReport(pk=self.launch_report_id)
            report.number_line(self, lambda: super(Log, self).save(*args, **kwargs))
        else:
            super().save(*args, **kwargs)

    def formatted(self) -> str:
        return conf.get("LOG_LINE_FORMAT").format(
            timestamp=self.timestamp, level=self.level, message=self.message
        )

    @classmethod
    def counter_of(cls, level: str) -> str | None:
        """The report's counter a counted line of ``level`` adds to (``n_errors``,
        ``n_warnings``), or None."""
        if level in cls.ERROR_LEVELS:
            return "n_errors"
        return "n_warnings" if level == "WARNING" else None


def check_arguments(
    command: AppCommand, text: str | None, legacy: bool = False
) -> tuple[list[str] | None, dict[str, str]]:
    """Check ``text`` as the arguments of a task on ``command``: ``(argv, {})`` when the
    command accepts them, else ``(None, {field: message})``.

    What ``Task.clean`` (the form's save) checks about the arguments, and what the task form's
    preview shows, so that the two never disagree. A command the policy refuses is never
    imported, not even for its parser; text holding a NUL character reaches no parser.
    """
    errors: dict[str, str] = {}
    if bounds.has_nul(text):
        errors["arguments"] = bounds.nul_message()
    refused = policy.refusal_explained(command)
    if refused:  # never load a command the policy refuses, not even for its parser
        errors["command"] = refused
    if errors:
        return None, errors
    if command.is_function:
        return check_function_arguments(command, text)
    try:
        parser = command.get_parser()
    except Exception as exc:  # the command may be gone from the project
        message = _("The command cannot be loaded: %(error)s") % {"error": exc}
        return None, {"command": message}
    try:
        return arguments.checked_argv(text or "", parser, legacy=legacy), {}
    except arguments.ArgumentsError as exc:
        return None, {"arguments": str(exc)}


def check_function_arguments(command: AppCommand, text: str | None):
    """``check_arguments`` for a ``@task`` function: ``([args, kwargs], {})`` when its
    signature takes the JSON arguments ``text``, else ``(None, {field: message})``."""
    try:
        task = command.get_function()
    except functions.NotATaskFunction as exc:
        return None, {"command": str(exc)}
    try:
        args, kwargs = functions.check(task, text)
    except functions.ArgumentsError as exc:
        return None, {"arguments": str(exc)}
    return [args, kwargs], {}


class Task(models.Model):
    """A command with its arguments, optional schedule, and run history."""

    REPETITION_PERIOD_SECOND = "second"
    REPETITION_PERIOD_MINUTE = "minute"
    REPETITION_PERIOD_HOUR = "hour"
    REPETITION_PERIOD_DAY = "day"
    REPETITION_PERIOD_WEEK = "week"
    REPETITION_PERIOD_MONTH = "month"
    REPETITION_PERIOD_CHOICES = (
        (REPETITION_PERIOD_SECOND, _("second")),
        (REPETITION_PERIOD_MINUTE, _("minute")),
        (REPETITION_PERIOD_HOUR, _("hour")),
        (REPETITION_PERIOD_DAY, _("day")),
        (REPETITION_PERIOD_WEEK, _("week")),
        (REPETITION_PERIOD_MONTH, _("month")),
    )

    STATUS_IDLE = "idle"
    STATUS_SPOOLED = "spooled"
    STATUS_SCHEDULED = "scheduled"
    STATUS_STARTED = "started"
    # The stored values are 0.5.x's; the labels are the words of the state column and viewer.
    STATUS_CHOICES = (
        (STATUS_IDLE, _("idle")),
        (STATUS_SPOOLED, _("queued")),
        (STATUS_SCHEDULED, _("scheduled")),
        (STATUS_STARTED, _("running")),
    )

    name = models.CharField(max_length=255)
    command = models.ForeignKey(
        AppCommand, on_delete=models.CASCADE, limit_choices_to={"active": True}
    )
    arguments = models.TextField(
        blank=True,
        help_text=_(
            "Separate arguments with commas; an option's value follows a blank or '='. "
            'Quote a value that holds commas or blanks. e.g.: -f, --title "a, b", --tag x, --tag y'
        ),
    )
    category = models.ForeignKey(
        TaskCategory,
        on_delete=models.DO_NOTHING,
        blank=True,
        null=True,
        help_text=_("Choose a category for this task"),
    )
    status = models.CharField(
        max_length=20, choices=STATUS_CHOICES, default=STATUS_IDLE, editable=False
    )
    scheduling = models.DateTimeField(blank=True, null=True, verbose_name=_("Initial scheduling"))
    repetition_period = models.CharField(
        max_length=20, choices=REPETITION_PERIOD_CHOICES, blank=True
    )
    repetition_rate = models.PositiveSmallIntegerField(blank=True, null=True)
    cron_expression = models.CharField(
        _("cron expression"),
        max_length=120,
        blank=True,
        default="",
        help_text=_(
            "Standard 5-field cron (minute hour day-of-month month day-of-week) in the site's "
            "time zone, e.g. '30 2 * * *' for 02:30 every day. Use it instead of a repetition."
        ),
    )
    # Whether the task runs on its schedule: False once it is stopped (paused) or a one-off
    # schedule has fired (done). The scheduler's sync applies every enabled schedule that has
    # no job in Redis, so a schedule saved while Redis is down runs once Redis is back.
    schedule_enabled = models.BooleanField(
        _("schedule on"),
        default=True,
        help_text=_(
            "Untick to pause the schedule: the task keeps it but does not run on it until it is "
            "resumed (Stop pauses it too). Tick it and save, or Resume, to turn it back on."
        ),
    )
    note = models.TextField(blank=True, null=True, help_text=_("A note on how this task is used."))
    # Why the scheduler could not compute or enqueue the task's next run ("" when it could).
    schedule_error = models.TextField(_("schedule error"), blank=True, default="", editable=False)
    scheduled_job_id = models.CharField(
        max_length=64,
        blank=True,
        null=True,
        help_text=_("A unique identifier for the scheduled job, if any"),
    )
    cached_last_invocation_datetime = models.DateTimeField(
        blank=True, null=True, verbose_name=_("Last datetime")
    )
    cached_last_invocation_result = models.CharField(
        max_length=20,
        choices=LaunchReport.RESULT_CHOICES,
        blank=True,
        null=True,
        verbose_name=_("Last result"),
    )
    cached_last_invocation_n_errors = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("Errors")
    )
    cached_last_invocation_n_warnings = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("Warnings")
    )
    cached_next_ride = models.DateTimeField(
        blank=True, null=True, verbose_name=_("Next execution time")
    )
    NOTIFY_DEFAULT = ""
    NOTIFY_OFF = "off"
    NOTIFICATION_LEVEL_CHOICES = (
        (NOTIFY_DEFAULT, _("as configured")),
        (NOTIFY_OFF, _("never")),
        ("ok", _("every run (ok and worse)")),
        ("warnings", _("warnings and worse")),
        ("errors", _("errors and worse")),
        ("failed", _("failures only")),
    )
    notification_level = models.CharField(
        _("notifications"),
        max_length=20,
        blank=True,
        default=NOTIFY_DEFAULT,
        choices=NOTIFICATION_LEVEL_CHOICES,
        help_text=_("Override the level of every notification handler for this task."),
    )

    legacy_arguments = models.BooleanField(
        _("0.5.x argument rule"),
        default=False,
        help_text=_(
            "Read the arguments as version 0.5 did (set on tasks created before the upgrade): "
            "every blank or '=' after an option separates words that are joined into one value, "
            "and there is no quoting. Untick it once the arguments follow the current rule."
        ),
    )
    timeout = models.PositiveIntegerField(
        _("timeout (s)"),
        null=True,
        blank=True,
        help_text=_("A run taking longer is stopped and fails. Empty: the default timeout."),
    )
    allow_overlap = models.BooleanField(
        _("allow overlapping runs"),
        default=False,
        help_text=_("Start a run even while a previous run of this task is still going."),
    )
    max_retries = models.PositiveSmallIntegerField(
        _("retries"), default=0, help_text=_("How many times a failed run is tried again.")
    )
    retry_delays = models.CharField(
        _("retry delays (s)"),
        max_length=200,
        blank=True,
        default="60",
        help_text=_(
            "Seconds before each retry, comma separated; the last one repeats. e.g. '30, 120, 600'."
        ),
    )
    retry_exponential = models.BooleanField(
        _("exponential backoff"),
        default=False,
        help_text=_("Double the delay at each retry, starting from the first delay."),
    )
    alert_after_minutes = models.PositiveIntegerField(
        _("alert after (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "Alert the notification handlers when no run has ended ok or with warnings for this "
            "many minutes (and once more when a run succeeds again). Empty: no alert."
        ),
    )
    # The end of the last run that ended ok or with warnings, or when the alert was first
    # checked if none has since: the missed-run alert counts from here.
    alert_counted_from = models.DateTimeField(null=True, blank=True, editable=False)
    # Since when the task has been overdue, once alerted; cleared by its next successful run.
    overdue_since = models.DateTimeField(_("overdue since"), null=True, blank=True, editable=False)
    queue = models.CharField(
        _("queue"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "The RQ queue its runs go to (one of RQ_QUEUES); empty: the default queue "
            "(EZTASKMANAGER_QUEUE_NAME)."
        ),
    )
    # Authorisation, written by ``authorisation`` only: since when what the task runs waits for
    # somebody who may launch tasks (changed by somebody who may not), who changed it, and who
    # last approved what it runs. The admin history tells people; these fields decide.
    held_since = models.DateTimeField(_("held since"), null=True, blank=True, editable=False)
    held_by = models.CharField(_("held by"), max_length=150, blank=True, default="", editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("Task")
        verbose_name_plural = _("Tasks")
        permissions = [("launch_task", "Can launch and stop tasks")]

    def __str__(self) -> str:
        return self.name

    # -- scheduling -------------------------------------------------------------------------

    @property
    def is_periodic(self) -> bool:
        """A task repeats when it has a cron expression or a repetition period and rate."""
        return self.schedule.is_periodic

    @property
    def is_scheduled(self) -> bool:
        return self.schedule.is_scheduled

    @property
    def schedule(self) -> schedules.Schedule:
        return schedules.Schedule.for_task(self)

    @property
    def schedule_done(self) -> bool:
        """A one-off schedule that is off and whose time has passed: it has had its turn."""
        return (
            not self.schedule_enabled
            and not self.is_periodic
            and self.scheduling is not None
            and self.scheduling <= timezone.now()
        )

    @property
    def schedule_paused(self) -> bool:
        """A schedule kept on the task but turned off (Stop, or "schedule on" unticked)."""
        return self.is_scheduled and not self.schedule_enabled and not self.schedule_done

    @property
    def schedule_pending(self) -> bool:
        """A schedule that is on but has no job yet: the scheduler's next sync applies it."""
        return self.is_scheduled and self.schedule_enabled and not self.scheduled_job_id

    @property
    def cron_description(self) -> str:
        if not self.cron_expression:
            return ""
        try:
            return schedules.describe_cron(schedules.validate_cron(self.cron_expression))
        except schedules.CronError as exc:
            return str(exc)

    @property
    def scheduling_utc(self):
        if self.scheduling is None:
            return None
        return self.scheduling.astimezone(UTC)

    @property
    def interval_in_seconds(self) -> int:
        """Nominal length of one repetition in seconds (``schedules.period_seconds``: a month
        counts 30 days); the real next run comes from ``schedules.next_run``."""
        return schedules.period_seconds(self.repetition_period) * self.repetition_rate

    def retry_delay_list(self) -> list[int]:
        """The delays in seconds written in ``retry_delays``; raises ValueError if unreadable."""
        delays = []
        for piece in (self.retry_delays or "").split(","):
            piece = piece.strip()
            if not piece:
                continue
            if not piece.isdigit():
                raise ValueError(
                    _("Write retry delays as whole seconds separated by commas, e.g. '30, 120'.")
                )
            delays.append(int(piece))
        return delays or [0]

    def retry_delay(self, retry: int) -> int:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        delays = self.retry_delay_list()
        if self.retry_exponential:
            return delays[0] * 2 ** (retry - 1)
        return delays[min(retry, len(delays)) - 1]

    # -- arguments ---------------------------------------------------------------------------

    def _parser(self):
        try:
            return self.command.get_parser()
        except Exception:  # the command may be gone from the project
            return None

    def tokens(self, parser=None) -> list[str]:
        """The argv tokens of ``arguments``, by the rule this task follows."""
        if self.legacy_arguments:
            return arguments.legacy_tokenize(self.arguments)
        return arguments.tokenize(self.arguments, parser)

    @property
    def complete_args(self) -> list[str]:
        """The argv tokens passed to ``call_command``, in order, repetitions kept."""
        if not (self.arguments or "").strip() or self.legacy_arguments:
            return self.tokens()  # no need to build the command's parser
        return self.tokens(self._parser())

    @property
    def args(self) -> list[str]:
        """Positional arguments (tokens that are neither options nor option values).

        With the 0.5.x rule (``legacy_arguments``), what 0.5.x returned: every first word
        without a value, flags included.
        """
        if self.legacy_arguments:
            return arguments.legacy_split(self.arguments)[0]
        return self._split_args()[0]

    @property
    def options(self) -> dict[str, str]:
        """Options as ``{dest: value}``; a flag gives ``"True"``, a repeat its last value.

        With the 0.5.x rule, what 0.5.x returned: words with a value, keyed by the word
        without its dashes.
        """
        if self.legacy_arguments:
            return arguments.legacy_split(self.arguments)[1]
        return self._split_args()[1]

    def _split_args(self) -> tuple[list[str], dict[str, str]]:
        parser = self._parser()
        argv = self.tokens(parser)
        actions = arguments.option_actions(parser) if parser else {}
        positional: list[str] = []
        options: dict[str, str] = {}
        i = 0
        while i < len(argv):
            token = argv[i]
            i += 1
            if not (token.startswith("-") and len(token) > 1):
                positional.append(token)
                continue
            name, eq, value = token.partition("=")
            action = actions.get(name)
            dest = action.dest if action else name.lstrip("-").replace("-", "_")
            if eq:
                options[dest] = value
                continue
            values = []
            wanted = arguments.values_taken(action)
            while i < len(argv) and len(values) < wanted and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            options[dest] = " ".join(values) if values else "True"
        return positional, options

    def clean(self):
        super().clean()
        errors = bounds.text_errors(self)  # first: such text never reaches a parser or a query
        if self.queue and self.queue not in configured_queues():
            errors["queue"] = _("No queue %(queue)s in RQ_QUEUES: use one of %(queues)s.") % {
                "queue": repr(self.queue),
                "queues": ", ".join(configured_queues()) or "-",
            }
        if bool(self.repetition_period) != bool(self.repetition_rate):
            errors["repetition_rate"] = _(
                "Set both the repetition period and the repetition rate, or neither."
            )
        try:
            self.retry_delay_list()
        except ValueError as exc:
            errors["retry_delays"] = str(exc)
        if self.cron_expression:
            try:
                self.cron_expression = schedules.validate_cron(self.cron_expression)
            except schedules.CronError as exc:
                errors["cron_expression"] = str(exc)
            if self.repetition_period or self.repetition_rate:
                errors.setdefault(
                    "cron_expression",
                    _("Use either a cron expression or a repetition period, not both."),
                )
        for field, message in bounds.task_errors(self).items():
            errors.setdefault(field, message)
        if self.command_id:  # the task form's preview shows these same errors
            found = check_arguments(self.command, self.arguments, self.legacy_arguments)[1]
            for field, message in found.items():
                errors.setdefault(field, message)
        if errors:
            raise ValidationError(errors)

    # -- history -----------------------------------------------------------------------------

    def compute_cache(self, save: bool = True) -> None:
        """Refresh the cached last-run fields from the latest finished report."""
        latest = (
            self.launchreport_set.exclude(invocation_result=LaunchReport.RESULT_NO)
            .order_by("-id")
            .first()
        )
        self.apply_report_cache(latest)
        if save:
            Task.objects.filter(pk=self.pk).update(**self.cache_values())

    def apply_report_cache(self, report: LaunchReport | None) -> None:
        if report is None:
            self.cached_last_invocation_datetime = None
            self.cached_last_invocation_result = None
            self.cached_last_invocation_n_errors = None
            self.cached_last_invocation_n_warnings = None
        else:
            self.cached_last_invocation_datetime = report.started_at or report.invocation_datetime
            self.cached_last_invocation_result = report.invocation_result
            self.cached_last_invocation_n_errors = report.n_errors
            self.cached_last_invocation_n_warnings = report.n_warnings

    def cache_values(self) -> dict:
        return {
            "cached_last_invocation_datetime": self.cached_last_invocation_datetime,
            "cached_last_invocation_result": self.cached_last_invocation_result,
            "cached_last_invocation_n_errors": self.cached_last_invocation_n_errors,
            "cached_last_invocation_n_warnings": self.cached_last_invocation_n_warnings,
        }

    def prune_reports(self, n: int | None = None) -> int:
        """Delete every report of this task but the latest ``n``; return how many went."""
        if n is None:
            n = conf.get("N_REPORTS_INLINE")
        if not n:
            return 0
        # Logs go first with a plain DELETE: the ORM collector would load every line. Both
        # statements run after every run: their SQL is compiled once per process.
        raw_delete(
            ("prune logs", n), lambda pk: logs_of(old_reports(pk, n)), self.pk, Log.objects.db
        )
        return raw_delete(
            ("prune reports", n), lambda pk: old_reports(pk, n), self.pk, LaunchReport.objects.db
        )


def old_reports(task_id: int, n: int):
    """The reports of task ``task_id`` older than its ``n`` newest."""
    # The n-th newest report is the oldest kept: everything older goes.
    oldest_kept = (
        LaunchReport.objects.filter(task_id=task_id).order_by("-id").values("id")[n - 1 : n]
    )
    # A run without a result (queued or running) is never pruned: its launch is kept.
    return LaunchReport.objects.filter(task_id=task_id, id__lt=Subquery(oldest_kept)).exclude(
        invocation_result=LaunchReport.RESULT_NO
    )


def logs_of(reports):
    return Log.objects.filter(launch_report_id__in=reports.values("id"))


class FollowUp(models.Model):
    """A task launched when a run of another task ends with one of the chosen results."""

    RESULT_CHOICES = tuple((value, label) for value, label in LaunchReport.RESULT_CHOICES if value)

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="follow_ups")
    then = models.ForeignKey(
        Task,
        on_delete=models.CASCADE,
        related_name="follows",
        verbose_name=_("then launch"),
    )
    results = models.CharField(
        _("when the run ends"),
        max_length=40,
        default="ok",
        help_text=_("Results that launch it, comma separated: ok, warnings, errors, failed."),
    )

    class Meta:
        verbose_name = _("Follow-up task")
        verbose_name_plural = _("Follow-up tasks")
        constraints = [
            models.UniqueConstraint(fields=["task", "then"], name="eztm_followup_unique"),
        ]

    def __str__(self) -> str:
        # Shown above each inline row: no query for the tasks' names.
        return f"on {self.results}"

    @property
    def result_list(self) -> list[str]:
        return [piece.strip() for piece in (self.results or "").split(",") if piece.strip()]

    def fires_on(self, result: str) -> bool:
        return result in self.result_list

    def clean(self):
        super().clean()
        known = list(LaunchReport.RESULT_LEVELS)
        unknown = [r for r in self.result_list if r not in known]
        if unknown or not self.result_list:
            raise ValidationError(
                {
                    "results": _("Choose results among %(known)s, comma separated.")
                    % {"known": ", ".join(known)}
                }
            )
        self.results = ", ".join(r for r in known if r in self.result_list)


class InternalActor(models.Model):
    """The user that stands for one of the package's own processes (``audit.actor``).

    Only code creates these rows (no admin page, no form): a user named like an actor is not
    one unless a row here says so.
    """

    name = models.CharField(max_length=50, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eztaskmanager_actor"
    )

    class Meta:
        verbose_name = _("internal actor")
        verbose_name_plural = _("internal actors")

    def __str__(self) -> str:
        return self.name
