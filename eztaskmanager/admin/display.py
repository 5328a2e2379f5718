"""The cells of the task list: what a task is, its state, its last run, its next run and schedule.

Each cell is a small piece of HTML built with ``format_html`` placeholders. Everything a cell
reads is on the task row or annotated on it by ``annotate_task_list`` (subqueries), so the list
costs the same number of queries whatever the number of rows. Long text is shortened, with the
full text on hover (``title``), and each cell is two short lines, so the list fits a 1280-pixel
window with the admin's navigation and filter sidebars open.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from eztaskmanager import conf
from eztaskmanager.core.dates import local_display
from eztaskmanager.models import LaunchReport, Task

# Characters of the arguments shown under a task's name (the rest is in the hover text).
ARGUMENTS_SHOWN = 60
# Results that make an idle or scheduled task show as "error".
ERROR_RESULTS = (LaunchReport.RESULT_ERRORS, LaunchReport.RESULT_FAILED)


def annotate_task_list(queryset: QuerySet) -> QuerySet:
    """Add the running run (id, start, progress) and the last finished run's id to each task."""
    reports = LaunchReport.objects.filter(task=OuterRef("pk")).order_by("-id")
    running = reports.filter(invocation_result=LaunchReport.RESULT_NO, started_at__isnull=False)
    finished = reports.exclude(invocation_result=LaunchReport.RESULT_NO)
    return queryset.annotate(
        last_report_id=Subquery(finished.values("id")[:1]),
        running_report_id=Subquery(running.values("id")[:1]),
        running_started_at=Subquery(running.values("started_at")[:1]),
        running_progress_done=Subquery(running.values("progress_done")[:1]),
        running_progress_total=Subquery(running.values("progress_total")[:1]),
    )


# -- relative times ---------------------------------------------------------------------------


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """``5 minutes ago`` or ``in 2 hours`` (the largest unit only)."""
    now = now or timezone.now()
    if abs((when - now).total_seconds()) < 60:
        return _("just now") if when <= now else _("in under a minute")
    if when <= now:
        return _("%(time)s ago") % {"time": timesince(when, now, depth=1)}
    return _("in %(time)s") % {"time": timeuntil(when, now, depth=1)}


def time_cell(when: datetime, now: datetime | None = None):
    """A relative time with the exact local time on hover."""
    return format_html(
        '<span class="eztm-when" title="{}">{}</span>',
        local_display(when),
        relative_time(when, now),
    )


# -- name, command and arguments --------------------------------------------------------------


def task_cell(task: Task):
    """The task's name, and under it its command with shortened arguments."""
    invocation = f"{task.command.name} {task.arguments or ''}".strip()
    shown = f"{task.command.name} {Truncator(task.arguments or '').chars(ARGUMENTS_SHOWN)}"
    name_title = f"{task.name}\n{task.note}" if task.note else task.name
    return format_html(
        '<span class="eztm-task-name" title="{}">{}</span>'
        '<code class="eztm-invocation" title="{}">{}</code>',
        name_title,
        task.name,
        invocation,
        shown.strip(),
    )


# -- state ------------------------------------------------------------------------------------


def state_badge(task: Task):
    """Running (with its progress), queued, error (a failed last run or a schedule that cannot
    be planned), scheduled or idle."""
    if task.status == Task.STATUS_STARTED:
        return running_badge(task)
    if task.status == Task.STATUS_SPOOLED:
        return badge("queued", task.get_status_display(), _("waiting for a worker"))
    if task.schedule_error:  # the scheduler set the task aside: its next run cannot be planned
        return badge("error", _("schedule error"), task.schedule_error)
    if task.schedule_paused:
        return badge("paused", _("paused"), _("keeps its schedule but does not run on it"))
    if task.cached_last_invocation_result in ERROR_RESULTS:
        result = dict(LaunchReport.RESULT_CHOICES)[task.cached_last_invocation_result]
        return badge("error", _("error"), _("the last run ended %(result)s") % {"result": result})
    if task.status == Task.STATUS_SCHEDULED:
        return badge("scheduled", task.get_status_display(), _("waits for its next run"))
    if task.schedule_pending:
        return badge(
            "pending", _("pending"), _("the scheduler applies its schedule at its next sync")
        )
    return badge("idle", status_word(Task.STATUS_IDLE), _("not scheduled"))


def status_word(status: str) -> str:
    """The label of a task status: the same word in the list filter, the column and the viewer."""
    return str(dict(Task.STATUS_CHOICES)[status])


def badge(state: str, label: str, hint: str):
    return format_html(
        '<span class="eztm-state eztm-state-{}" title="{}">{}</span>', state, hint, label
    )


def running_badge(task: Task):
    done = getattr(task, "running_progress_done", None)
    total = getattr(task, "running_progress_total", None)
    started = getattr(task, "running_started_at", None)
    hint = _("running since %(when)s") % {"when": local_display(started) if started else "-"}
    label = badge("running", status_word(Task.STATUS_STARTED), hint)
    if total:
        percent = round(100 * min(done or 0, total) / total)
        return format_html(
            '{}<span class="eztm-state-progress" title="{} / {}">'
            '<progress value="{}" max="{}"></progress> {}%</span>',
            label,
            done or 0,
            total,
            done or 0,
            total,
            percent,
        )
    if done is not None:
        return format_html('{}<span class="eztm-state-progress">{}</span>', label, done)
    return label


# -- last and next run ------------------------------------------------------------------------


def last_run_cell(task: Task, now: datetime | None = None):
    """The run going on (to its live log), else the last result with its time (to its log)."""
    show_links = conf.get("SHOW_LOGVIEWER_LINK")
    running_id = getattr(task, "running_report_id", None)
    if task.status == Task.STATUS_STARTED and running_id:
        started = getattr(task, "running_started_at", None)
        label = format_html(
            '<span class="eztm-result eztm-result-running">{}</span>', _("live log")
        )
        if show_links:
            label = format_html(
                '<a href="{}" title="{}">{}</a>',
                reverse("eztaskmanager:live_log_viewer", args=[running_id]),
                _("follow the run's log"),
                label,
            )
        return format_html("{} {}", label, time_cell(started, now)) if started else label
    result = task.cached_last_invocation_result
    if not result:
        return format_html('<span class="eztm-muted">{}</span>', _("never"))
    label = format_html(
        '<span class="eztm-result eztm-result-{}">{}</span>',
        result,
        dict(LaunchReport.RESULT_CHOICES).get(result, result),
    )
    report_id = getattr(task, "last_report_id", None)
    if report_id and show_links:
        label = format_html(
            '<a href="{}" title="{}">{}</a>',
            reverse("eztaskmanager:log_viewer", args=[report_id]),
            counts_text(
                task.cached_last_invocation_n_errors or 0,
                task.cached_last_invocation_n_warnings or 0,
            ),
            label,
        )
    when = task.cached_last_invocation_datetime
    return format_html("{} {}", label, time_cell(when, now)) if when else label


def next_run_cell(task: Task, now: datetime | None = None):
    """When the next run is (relative), and under it the schedule in words."""
    words = schedule_words(task)
    schedule = format_html('<span class="eztm-schedule" title="{}">{}</span>', words, words)
    if task.schedule_paused:
        paused = format_html(
            '<span class="eztm-paused" title="{}">{}</span>',
            _("Resume the task to run it on its schedule again"),
            _("paused"),
        )
        return format_html("{}{}", paused, schedule)
    if task.schedule_done:
        done = _("done")
        return format_html('<span class="eztm-muted">{}</span>{}', done, schedule)
    if task.cached_next_ride is None:
        return schedule if words != "-" else "-"
    return format_html("{}{}", time_cell(task.cached_next_ride, now), schedule)


# -- schedule in words ------------------------------------------------------------------------


def repetition_text(task: Task) -> str:
    """How often the task repeats: ``every 2 hours``, a cron description, ``once`` or ``-``."""
    if task.cron_expression:
        return task.cron_description or task.cron_expression
    if task.repetition_period and task.repetition_rate:
        rate = task.repetition_rate
        texts = {
            "second": ngettext("every second", "every %(rate)d seconds", rate),
            "minute": ngettext("every minute", "every %(rate)d minutes", rate),
            "hour": ngettext("every hour", "every %(rate)d hours", rate),
            "day": ngettext("every day", "every %(rate)d days", rate),
            "week": ngettext("every week", "every %(rate)d weeks", rate),
            "month": ngettext("every month", "every %(rate)d months", rate),
        }
        if task.repetition_period not in texts:
            return _("every %(rate)d %(period)s") % {"rate": rate, "period": task.repetition_period}
        return texts[task.repetition_period] % {"rate": rate}
    if task.scheduling:
        return _("once")
    return "-"


def schedule_words(task: Task) -> str:
    """The repetition with its wall-clock anchor: ``every day at 02:30``, ``once, 3 Dec 14:00``."""
    text = repetition_text(task)
    start = timezone.localtime(task.scheduling) if task.scheduling else None
    if start is None or task.cron_expression:
        return text
    if not task.repetition_period:
        return _("once, %(when)s") % {"when": date_format(start, "DATETIME_FORMAT")}
    at = start.strftime("%H:%M")
    if task.repetition_period == Task.REPETITION_PERIOD_DAY:
        return _("%(every)s at %(time)s") % {"every": text, "time": at}
    if task.repetition_period == Task.REPETITION_PERIOD_WEEK:
        return _("%(every)s on %(day)s at %(time)s") % {
            "every": text,
            "day": date_format(start, "D"),
            "time": at,
        }
    if task.repetition_period == Task.REPETITION_PERIOD_MONTH:
        return _("%(every)s on day %(day)d at %(time)s") % {
            "every": text,
            "day": start.day,
            "time": at,
        }
    return text


def counts_text(errors: int, warnings: int) -> str:
    """``1 error, 2 warnings: open the log``, in the plural forms of the language."""
    return _("%(errors)s, %(warnings)s: open the log") % {
        "errors": ngettext("%(n)d error", "%(n)d errors", errors) % {"n": errors},
        "warnings": ngettext("%(n)d warning", "%(n)d warnings", warnings) % {"n": warnings},
    }


def report_title(report: LaunchReport) -> str:
    """A report as a sentence: ``Long import, ok, 4 Dec 2026 06:12`` (task, result, start)."""
    state = LaunchReport.state_label(report.state)
    when = report.started_at or report.invocation_datetime
    text = f"{report.task.name}, {state}"
    if when is not None:
        text += ", " + date_format(timezone.localtime(when), "j M Y H:i")
    return text
