"""Log views of a run: paged viewer, live viewer, its JSON endpoint and the text download.

Every view needs an active staff user with the ``eztaskmanager.view_launchreport`` permission:
an anonymous visitor is sent to the admin login page, anybody else gets a 403. Lines are read
by line number from the (report, line number) index, so a request costs the same on a short
and on a very long log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import wraps

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from eztaskmanager import operations
from eztaskmanager.backends import BackendError
from eztaskmanager.core import bounds, permissions
from eztaskmanager.models import LaunchReport, Log
from eztaskmanager.web.reporting import line_dict, report_dict

# Longest page of lines one request returns.
PAGE_SIZE = 1000
# A text search reads at most this many lines per request; the client asks again for the rest.
SEARCH_WINDOW = 50_000
LEVEL_FILTERS = {
    "all": None,
    "warnings": Log.WARNING_LEVELS,
    "errors": Log.ERROR_LEVELS,
}
# Level names accepted by 0.5.x's ``log_level`` parameter.
LEGACY_LEVELS = {"warning": "warnings", "error": "errors"}
# Longest search text: SQLite refuses a LIKE pattern past 50,000 bytes, and no log line search
# needs more than a few words.
MAX_SEARCH_LENGTH = 200
# Characters escaped in JSON bodies, so that log text can never be read as markup.
JSON_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def report_view(view):
    """Check the user (before anything is read), then pass the report to ``view``."""

    @wraps(view)
    def wrapper(request, pk, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not permissions.may_view_runs(request.user):
            raise PermissionDenied
        report = get_object_or_404(LaunchReport.objects.select_related("task__command"), pk=pk)
        return view(request, report, *args, **kwargs)

    return require_safe(wrapper)


def run_button_view(view):
    """A button on a run's pages: POST only (CSRF-checked by the middleware), by an active
    staff user who may read reports and launch tasks; ``view`` returns where to go next."""

    @wraps(view)
    def wrapper(request, pk):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (permissions.may_view_runs(request.user) and permissions.may_launch(request.user)):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        report = get_object_or_404(LaunchReport.objects.select_related("task__command"), pk=pk)
        return view(request, report)

    return wrapper


def report_page(request, report: LaunchReport):
    """Back to the page the button was on: the live viewer or the paged one."""
    name = "live_log_viewer" if request.POST.get("next") == "live" else "log_viewer"
    return redirect(reverse(f"eztaskmanager:{name}", args=[report.pk]))


def can_manage_runs(user) -> bool:
    return permissions.may_view_runs(user) and permissions.may_launch(user)


def json_response(data: dict) -> HttpResponse:
    body = json.dumps(data).translate(JSON_ESCAPES)
    response = HttpResponse(body, content_type="application/json")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def search_text(request) -> tuple[str, str]:
    """The ``q`` parameter, and an error message when it cannot be searched for."""
    search = request.GET.get("q", "").strip()
    if bounds.has_nul(search):
        return "", _("The search text contains a NUL character (\\0): remove it.")
    if len(search) > MAX_SEARCH_LENGTH:
        return "", _("The search text is longer than %(n)d characters: shorten it.") % {
            "n": MAX_SEARCH_LENGTH
        }
    return search, ""


def level_filter(value: str | None) -> str:
    value = (value or "all").lower()
    value = LEGACY_LEVELS.get(value, value)
    return value if value in LEVEL_FILTERS else "all"


def requested_page(request, report: LaunchReport, options: dict):
    """The page the request asks for: lines after ``after``, or before ``before`` (or ``end``)."""
    if request.GET.get("before") == "end":
        return read_lines(report, before=report.n_lines + 1, **options)
    if "before" in request.GET:
        return read_lines(report, before=int_param(request, "before", 0), **options)
    return read_lines(report, after=int_param(request, "after", 0), **options)


def int_param(request, name: str, default: int | None = None) -> int | None:
    try:
        return max(int(request.GET[name]), 0)
    except (KeyError, ValueError):
        return default


@dataclass
class LinePage:
    """Lines read from a report, and the range of line numbers they were looked for in."""

    lines: list[Log]
    first: int  # lowest line number looked at
    last: int  # highest line number looked at
    n_lines: int  # lines in the log when it was read

    @property
    def more_before(self) -> bool:
        return self.first > 1

    @property
    def more_after(self) -> bool:
        return self.last < self.n_lines


def read_lines(
    report: LaunchReport,
    *,
    after: int | None = None,
    before: int | None = None,
    level: str = "all",
    search: str = "",
    limit: int = PAGE_SIZE,
) -> LinePage:
    """Matching lines after line ``after`` (forwards) or before line ``before`` (backwards).

    Only lines up to the report's line counter, read with the report, are looked at: the lines
    and the counter are written in one transaction, so no line is ever skipped by a client
    that asks again from ``last``.
    """
    n_lines = report.n_lines
    logs = report.logs.all()
    levels = LEVEL_FILTERS[level]
    if levels:
        logs = logs.filter(level__in=levels)
    if search:
        logs = logs.filter(message__icontains=search)
    if before is not None:
        high = min(before - 1, n_lines)
        low = max(high - SEARCH_WINDOW + 1, 1) if search else 1
        newest_first = logs.filter(lineno__gte=low, lineno__lte=high).order_by("-lineno")
        found = list(newest_first[:limit])[::-1]
        if len(found) == limit:
            low = found[0].lineno
        return LinePage(found, first=low, last=max(high, 0), n_lines=n_lines)
    after = after or 0
    high = min(after + SEARCH_WINDOW, n_lines) if search else n_lines
    found = list(logs.filter(lineno__gt=after, lineno__lte=high).order_by("lineno")[:limit])
    if len(found) == limit:
        high = found[-1].lineno
    return LinePage(found, first=after + 1, last=max(high, after), n_lines=n_lines)


def report_state(report: LaunchReport) -> dict:
    """What the live viewer shows about the run besides its lines."""
    return {
        **report_dict(report),
        "result": report.invocation_result,
        "task_status": report.task.status,
        "task_status_display": report.task.get_status_display(),
    }


@report_view
def ajax_read_log_lines(request, report: LaunchReport):
    """JSON: the lines after ``after`` (or before ``before``), and the state of the run.

    ``before=end`` reads the last page of the log. With 0.5.x's ``offset`` parameter the answer
    has 0.5.x's keys: ``new_log_lines`` (formatted lines), ``task_status`` and ``log_size``
    (the offset to ask for next).
    """
    if "offset" in request.GET and "after" not in request.GET:
        return legacy_read_log_lines(request, report)
    limit = min(int_param(request, "limit", PAGE_SIZE) or PAGE_SIZE, PAGE_SIZE)
    search, error = search_text(request)
    if error:
        response = json_response({"error": error})
        response.status_code = 400
        return response
    options = {"level": level_filter(request.GET.get("level")), "search": search, "limit": limit}
    page = requested_page(request, report, options)
    return json_response(
        {
            "lines": [line_dict(log) for log in page.lines],
            "first": page.first,
            "last": page.last,
            "more_before": page.more_before,
            "more_after": page.more_after,
            "report": report_state(report),
        }
    )


def legacy_read_log_lines(request, report: LaunchReport):
    offset = int_param(request, "offset", 0)
    page = read_lines(report, after=offset)
    return json_response(
        {
            "new_log_lines": [log.formatted() for log in page.lines],
            "task_status": report.task.status,
            "log_size": page.lines[-1].lineno if page.lines else report.n_lines,
        }
    )


def admin_context(request, report: LaunchReport, title: str) -> dict:
    return {
        **admin.site.each_context(request),
        "title": title,
        "report": report,
        "task": report.task,
        "opts": LaunchReport._meta,
        "can_manage_runs": can_manage_runs(request.user),
    }


@report_view
def log_viewer(request, report: LaunchReport):
    """The log a page at a time, read by line number; works without JavaScript."""
    level = level_filter(request.GET.get("level") or request.GET.get("log_level"))
    search, error = search_text(request)
    if error:
        messages.error(request, error)
    options = {"level": level, "search": search}
    page = requested_page(request, report, options)
    context = admin_context(
        request,
        report,
        _("Log of %(task)s, run %(id)s") % {"task": report.task.name, "id": report.pk},
    )
    context.update(
        page=page,
        level=level,
        search=search,
        levels=[("all", _("All")), ("warnings", _("Warnings")), ("errors", _("Errors"))],
        state=report_state(report),
    )
    return render(request, "eztaskmanager/log_viewer.html", context)


@report_view
def live_log_viewer(request, report: LaunchReport):
    """The live viewer: a page that polls ``ajax_read_log_lines`` for new lines."""
    context = admin_context(
        request,
        report,
        _("Live log of %(task)s, run %(id)s") % {"task": report.task.name, "id": report.pk},
    )
    context.update(
        state=report_state(report),
        lines_url=reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]),
        page_size=PAGE_SIZE,
        messages_text={
            "running": LaunchReport.state_label(LaunchReport.STATE_RUNNING),
            "pause": _("Pause"),
            "follow": _("Follow"),
            "empty": _("No log lines yet."),
            "noMatch": _("No matching line in the lines read so far."),
            "unreadable": _("The log cannot be read now; trying again."),
            "denied": _("You are logged out or may not read this log: reload the page."),
        },
    )
    return render(request, "eztaskmanager/live_log_viewer.html", context)


@run_button_view
def stop_run(request, report: LaunchReport):
    """Stop this run (running or queued); the task's schedule, if any, stays as it is."""
    by = request.user.get_username()
    name = report.task.name
    try:
        stopped = operations.stop_run(report, by, user=request.user)
    except BackendError as exc:
        messages.error(
            request, _("Run %(id)s was not stopped: %(error)s") % {"id": report.pk, "error": exc}
        )
        return report_page(request, report)
    if stopped:
        messages.success(
            request,
            _("Run %(id)s of “%(task)s” was asked to stop; its report ends “stopped by %(user)s”.")
            % {"id": report.pk, "task": name, "user": by},
        )
    else:
        messages.info(
            request, _("Run %(id)s had already ended: nothing to stop.") % {"id": report.pk}
        )
    return report_page(request, report)


def again_arguments(report: LaunchReport) -> str | None:
    """The one-off arguments of a run again: those the report ran, when not the task's own."""
    if report.arguments is not None:
        return report.arguments
    if report.is_recorded and report.run_arguments != (report.task.arguments or ""):
        return report.run_arguments
    return None


@run_button_view
def run_again(request, report: LaunchReport):
    """Launch the task once more with the arguments this run had; go to the new run's log."""
    task = report.task
    if report.is_recorded and report.command_name != task.command.name:
        messages.error(
            request,
            _(
                "“%(task)s” now runs another command than run %(id)s did: launch it from "
                "its task page."
            )
            % {"task": task.name, "id": report.pk},
        )
        return report_page(request, report)
    try:
        outcome = operations.launch(task, user=request.user, arguments=again_arguments(report))
    except BackendError as exc:
        messages.error(
            request, _("“%(task)s” was not launched: %(error)s") % {"task": task.name, "error": exc}
        )
        return report_page(request, report)
    new = outcome.report or LaunchReport.objects.filter(rq_job_id=outcome.job_id).first()
    messages.success(
        request,
        _("“%(task)s” was launched again with the arguments of run %(id)s.")
        % {"task": task.name, "id": report.pk},
    )
    if new is None:  # sent after a commit that has not happened: the task's reports list it
        return report_page(request, report)
    return redirect(reverse("eztaskmanager:live_log_viewer", args=[new.pk]))


@report_view
def download_log(request, report: LaunchReport):
    """The whole log as a text file, streamed from the database a chunk at a time."""
    filename = f"{slugify(report.task.name) or 'task'}-run-{report.pk}.log"
    response = StreamingHttpResponse(
        (line + "\n" for line in report.iter_log_lines()),
        content_type="text/plain; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
