"""Admin of django-eztaskmanager: tasks (launch, stop, schedule), reports, commands, categories.

Every list and change page reads a fixed number of queries whatever the number of rows: related
rows come with ``select_related``, the last report's id with a subquery, report log tails in one
query for the whole inline. Launching and stopping need the ``eztaskmanager.launch_task``
permission, separate from editing.
"""

from __future__ import annotations

import shlex

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from eztaskmanager import conf
from eztaskmanager.admin import display as admin_display
from eztaskmanager.admin.actions import (
    MAX_ARGUMENTS_LENGTH,
    SCHEDULE_FIELDS,
    TaskButtonsMixin,
    TaskOperationsMixin,
    TaskResumeMixin,
    TaskSaveMixin,
    column_names,
    find_command,
    schedule_fields,
)
from eztaskmanager.admin.inlines import FollowUpInline, ReportOriginMixin
from eztaskmanager.compat.admin import LegacyButtonsMixin
from eztaskmanager.core import functions, permissions, policy
from eztaskmanager.core.dates import local_display
from eztaskmanager.models import AppCommand, LaunchReport, Log, Task, TaskCategory, check_arguments
from eztaskmanager.operations.commands import offered_rows
from eztaskmanager.web.views import json_response

MAIN_FIELDS = ("name", "command", "arguments", "category", "note")
# Fields that set when a task runs; those the Task model has are used.
STATE_FIELDS = (
    "status",
    "cached_next_ride",
    "cached_last_invocation_datetime",
    "cached_last_invocation_result",
    "cached_last_invocation_n_errors",
    "cached_last_invocation_n_warnings",
    "scheduled_job_id",
    "overdue_since",
    "schedule_error",
    "held_since",
    "held_by",
    "approved_by",
    "approved_at",
)
# Reports shown in a task's inline when EZTASKMANAGER_N_REPORTS_INLINE is 0 (keep them all).
DEFAULT_INLINE_REPORTS = 10
# Runs drawn in a task's run history chart.
HISTORY_RUNS = 30


# -- small HTML pieces (format_html with placeholders only) -----------------------------------


def has_unfinished_run(task) -> bool:
    """Whether ``task`` has a run that is running or queued."""
    return LaunchReport.objects.filter(task_id=task.pk, invocation_result="").exists()


def result_badge(result: str | None, label: str | None = None, queued: bool = False):
    if not result:  # launched and not started by a worker yet, or running
        result = LaunchReport.STATE_QUEUED if queued else LaunchReport.STATE_RUNNING
    label = label or LaunchReport.state_label(result)
    return format_html('<span class="eztm-result eztm-result-{}">{}</span>', result, label)


def progress_bar(report: LaunchReport):
    if report.progress_total:
        return format_html(
            '<progress class="eztm-progress" value="{}" max="{}"></progress> {} / {} ({}%)',
            report.progress_done or 0,
            report.progress_total,
            report.progress_done or 0,
            report.progress_total,
            round(report.progress_percent or 0),
        )
    if report.progress_done is not None:
        return str(report.progress_done)
    return "-"


def log_links(report_id: int):
    if not conf.get("SHOW_LOGVIEWER_LINK"):
        return "-"
    links = [
        ("eztaskmanager:log_viewer", _("log")),
        ("eztaskmanager:live_log_viewer", _("live")),
        ("eztaskmanager:download_log", _("download")),
    ]
    return format_html_join(
        " | ",
        '<a href="{}">{}</a>',
        ((reverse(name, args=[report_id]), label) for name, label in links),
    )


def tail_text(report: LaunchReport, logs: list[Log]) -> str:
    """The same text as ``LaunchReport.log_tail``, from lines read beforehand."""
    lines = []
    hidden = report.n_lines - len(logs)
    if hidden > 0:
        lines.append(f"{hidden} lines hidden ...")
    lines.extend(log.formatted() for log in logs)
    return "\n".join(lines)


def attach_log_tails(reports, n_lines: int) -> None:
    """Read the last ``n_lines`` lines of every report in one query, into ``report.tail_logs``.

    Line numbers run from 1 to the report's line counter, so a report's tail is the range above
    ``n_lines - n`` and each report's part of the query is a range read of the line index.
    """
    reports = list(reports)
    by_id = {}
    condition = Q()
    for report in reports:
        report.tail_logs = []
        by_id[report.pk] = report
        if report.n_lines and n_lines > 0:
            condition |= Q(
                launch_report_id=report.pk,
                lineno__gt=report.n_lines - n_lines,
                lineno__lte=report.n_lines,
            )
    if not condition:
        return
    for log in Log.objects.filter(condition).order_by("launch_report_id", "lineno"):
        by_id[log.launch_report_id].tail_logs.append(log)


def run_history(task: Task, n_runs: int = HISTORY_RUNS) -> dict | None:
    """Geometry and labels of the run history chart (the template draws the SVG)."""
    runs = list(
        LaunchReport.objects.filter(task=task)
        .order_by("-id")
        .values("id", "invocation_result", "duration", "started_at", "invocation_datetime")[:n_runs]
    )[::-1]
    if not runs:
        return None
    now = timezone.now()
    for run in runs:
        started = run["started_at"] or run["invocation_datetime"]
        run["seconds"] = run["duration"]
        if run["seconds"] is None:  # still running: its time so far
            run["seconds"] = max((now - started).total_seconds(), 0.0)
        run["started"] = started
    longest = max(run["seconds"] for run in runs) or 1.0
    show_links = conf.get("SHOW_LOGVIEWER_LINK")
    bar_width, gap, height, top = 12, 4, 60, 14
    bars = []
    for index, run in enumerate(runs):
        bar_height = max(2.0, run["seconds"] / longest * height)
        result = run["invocation_result"] or "running"
        bars.append(
            {
                "x": index * (bar_width + gap),
                "y": round(top + height - bar_height, 1),
                "width": bar_width,
                "height": round(bar_height, 1),
                "result": result,
                "url": reverse("eztaskmanager:log_viewer", args=[run["id"]]) if show_links else "",
                "label": _("Run %(id)s, %(when)s: %(result)s in %(seconds).1f s")
                % {
                    "id": run["id"],
                    "when": local_display(run["started"]),
                    "result": LaunchReport.state_label(result),
                    "seconds": run["seconds"],
                },
            }
        )
    return {
        "bars": bars,
        "width": len(runs) * (bar_width + gap),
        "height": top + height + 2,
        "baseline": top + height,
        "longest": _("longest: %(seconds).1f s") % {"seconds": longest},
    }


# -- Task ------------------------------------------------------------------------------------


class ReportFormSet(BaseInlineFormSet):
    """The latest reports of a task, with their log tails read in one query.

    The rows are read-only, so posted data about them is never read: a POST that leaves out a
    row's id would otherwise build a row with no primary key and break the page.
    """

    def __init__(self, data=None, files=None, *args, **kwargs):
        super().__init__(None, None, *args, **kwargs)

    def is_valid(self) -> bool:
        return True

    def save(self, commit=True):
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []

    def get_queryset(self):
        if getattr(self, "latest_reports", None) is None:
            limit = conf.get("N_REPORTS_INLINE") or DEFAULT_INLINE_REPORTS
            # The task comes along: a report's name (its __str__) shows it.
            reports = super().get_queryset().select_related("task").order_by("-id")[:limit]
            attach_log_tails(reports, conf.get("N_LINES_IN_REPORT_LOG"))
            self.latest_reports = reports
        return self.latest_reports


class ReadOnly:
    """Admin mixin: rows are shown, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LaunchReportInline(ReadOnly, admin.TabularInline):
    model = LaunchReport
    formset = ReportFormSet
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("run", "result", "run_duration", "counts", "progress", "log_tail", "links")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("Latest runs")

    @admin.display(description=gettext_lazy("started"))
    def run(self, report):
        started = report.started_at or report.invocation_datetime
        return local_display(started)

    @admin.display(description=gettext_lazy("result"))
    def result(self, report):
        return result_badge(report.invocation_result, queued=report.is_queued)

    @admin.display(description=gettext_lazy("duration (s)"))
    def run_duration(self, report):
        return "-" if report.duration is None else f"{report.duration:.1f}"

    @admin.display(description=gettext_lazy("lines / warnings / errors"))
    def counts(self, report):
        return f"{report.n_lines} / {report.n_warnings} / {report.n_errors}"

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, report):
        return progress_bar(report)

    @admin.display(description=gettext_lazy("log tail"))
    def log_tail(self, report):
        logs = getattr(report, "tail_logs", None)
        text = tail_text(report, logs) if logs is not None else report.log_tail()
        return format_html('<pre class="eztm-tail">{}</pre>', text) if text else "-"

    @admin.display(description=gettext_lazy("log"))
    def links(self, report):
        return log_links(report.pk)


@admin.register(Task)
class TaskAdmin(
    LegacyButtonsMixin,
    TaskSaveMixin,
    TaskResumeMixin,
    TaskOperationsMixin,
    TaskButtonsMixin,
    admin.ModelAdmin,
):
    list_display = ("task", "state", "last_run", "next_run")
    list_filter = (
        "status",
        "schedule_enabled",
        "cached_last_invocation_result",
        "category",
        ("command", admin.RelatedOnlyFieldListFilter),  # only the commands tasks use
        "queue",
    )
    search_fields = ("name", "note", "arguments", "command__name")
    list_select_related = ("command", "category")
    actions = ["launch_tasks", "stop_tasks", "resume_tasks"]
    inlines = [FollowUpInline, LaunchReportInline]
    change_form_template = "admin/eztaskmanager/task/change_form.html"
    readonly_fields = STATE_FIELDS

    class Media:
        css = {"all": ("eztaskmanager/eztaskmanager.css",)}
        js = ("eztaskmanager/task_form.js",)

    # -- fields and queryset --------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not self.has_launch_permission(request):
            # Setting a schedule starts runs: it takes the same permission as launching.
            fields += schedule_fields()
        return fields

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if obj is None or not obj.legacy_arguments:  # only tasks migrated from 0.5.x have it
            exclude.append("legacy_arguments")
        return exclude

    def get_fieldsets(self, request, obj=None):
        """What the task does, when it runs, any other option, and its state (collapsed)."""
        fields = list(self.get_fields(request, obj))
        main = [f for f in MAIN_FIELDS if f in fields]
        schedule = [f for f in SCHEDULE_FIELDS if f in fields]
        state = [f for f in STATE_FIELDS if f in fields]
        others = [f for f in fields if f not in main + schedule + state]
        fieldsets = [(None, {"fields": main}), (_("Schedule"), {"fields": schedule})]
        if others:
            fieldsets.append((_("Run options and notifications"), {"fields": others}))
        if obj is not None:
            fieldsets.append((_("State"), {"fields": state, "classes": ["collapse"]}))
        return fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "command":  # what the policy allows now, not only active rows
            kwargs["queryset"] = offered_rows(current_command_id(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("command", "category")
        return admin_display.annotate_task_list(queryset)

    # -- changelist columns ---------------------------------------------------------------

    @admin.display(description=gettext_lazy("task"), ordering="name")
    def task(self, task):
        return admin_display.task_cell(task)

    @admin.display(description=gettext_lazy("state"), ordering="status")
    def state(self, task):
        return admin_display.state_badge(task)

    @admin.display(description=gettext_lazy("last run"), ordering="cached_last_invocation_datetime")
    def last_run(self, task):
        return admin_display.last_run_cell(task)

    @admin.display(description=gettext_lazy("next run / schedule"), ordering="cached_next_ride")
    def next_run(self, task):
        return admin_display.next_run_cell(task)

    # -- change form: buttons, command help, run history ----------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        help_view = self.admin_site.admin_view(self.command_help_view)
        preview_view = self.admin_site.admin_view(self.arguments_preview_view)
        return [
            path("command-help/", help_view, name=f"{prefix}_command_help"),
            path("arguments-preview/", preview_view, name=f"{prefix}_arguments_preview"),
            *self.operation_urls(),
            *super().get_urls(),
        ]

    def command_help_view(self, request):
        """The ``--help`` text of a command, as plain text (the task form shows it)."""
        if not (self.has_add_permission(request) or self.has_view_or_change_permission(request)):
            raise PermissionDenied
        command = find_command(request.GET.get("command"))
        response = HttpResponse(command_help(command), content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def arguments_preview_view(self, request):
        """JSON: the command line the task form's command and arguments run, or the errors its
        save gives them (``models.check_arguments``, which ``Task.clean`` calls too).

        For whoever may add or change tasks (who has the arguments field to type in). A POST,
        CSRF-checked like the form it previews, although it changes nothing: the arguments go
        in the body, as when the form is saved, so that they stay out of URLs (server access
        logs, the browser's history) and no URL length limit cuts a long text short.
        """
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        preview = arguments_preview(
            find_command(request.POST.get("command")),
            request.POST.get("arguments", ""),
            legacy=request.POST.get("legacy") == "1",
            field=self.get_form(request).base_fields.get("arguments"),
        )
        return json_response(preview)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        # A user who may only view the task has no command field in the form.
        chosen = (
            form["command"].value()
            if "command" in form.fields
            else getattr(obj, "command_id", None)
        )
        if obj is not None and str(chosen) == str(obj.command_id):
            command = obj.command
        else:
            command = find_command(chosen)
        can_launch = obj is not None and self.has_launch_permission(request, obj)
        scheduled = obj is not None and (
            obj.scheduled_job_id or obj.status == Task.STATUS_SCHEDULED
        )
        context.update(
            can_launch=can_launch,
            # Stop while it is scheduled, and while a run of it (by hand too) is going.
            can_stop=can_launch and bool(scheduled or has_unfinished_run(obj)),
            can_resume=can_launch and obj.schedule_paused,
            schedule_paused=obj is not None and obj.schedule_paused,
            schedule_done=obj is not None and obj.schedule_done,
            command_help=command_help(command),
            command_help_url=self.admin_url("command_help"),
            # Only for who may edit the arguments: a view-only form has no field to type in.
            arguments_preview_url=(
                self.admin_url("arguments_preview") if "arguments" in form.fields else ""
            ),
            preview_command_id=getattr(command, "pk", ""),
            run_history=run_history(obj) if obj is not None else None,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


def current_command_id(request):
    """The command of the task whose change page ``request`` is for, if any."""
    object_id = getattr(request.resolver_match, "kwargs", {}).get("object_id")
    if not object_id or not str(object_id).isdigit():
        return None
    return Task.objects.filter(pk=int(object_id)).values_list("command_id", flat=True).first()


def command_help(command: AppCommand | None) -> str:
    if command is None:
        return _("Choose a command to see its arguments.")
    # Checked before the command is imported: the web process never loads a refused command,
    # not even to build its parser for the help text.
    refused = policy.refusal_explained(command)
    if refused:
        return _("The help of %(command)s is not shown: %(reason)s") % {
            "command": command.name,
            "reason": refused,
        }
    try:
        return command.help_text
    except Exception as exc:  # the command may be gone from the project
        return _("The help of %(command)s cannot be loaded: %(error)s") % {
            "command": command.name,
            "error": exc,
        }


def arguments_preview(
    command: AppCommand | None, text: str, legacy: bool = False, field: forms.Field | None = None
) -> dict:
    """What the task form shows under its arguments: ``state`` ``ok`` with the ``argv`` and
    the ``command_line`` a run executes, ``invalid`` with the ``errors`` the form's save gives,
    or ``none`` with a ``message`` when there is nothing to check.

    The save's path for the arguments: the form's own ``field`` first (it strips the text and
    refuses a NUL character), then ``models.check_arguments``, which ``Task.clean`` calls.
    """
    if command is None:
        return {"state": "none", "message": _("Choose a command to see the command line it runs.")}
    if len(text) > MAX_ARGUMENTS_LENGTH:
        message = _("Arguments longer than %(n)d characters are not previewed: shorten them.")
        return {"state": "invalid", "errors": [message % {"n": MAX_ARGUMENTS_LENGTH}]}
    if field is not None:
        try:
            text = field.clean(text) or ""
        except ValidationError as exc:
            return {"state": "invalid", "errors": [str(message) for message in exc.messages]}
    argv, errors = check_arguments(command, text, legacy)
    if errors:
        return {"state": "invalid", "errors": [str(message) for message in errors.values()]}
    if command.is_function:  # argv is [args, kwargs]: the call as Python reads it
        return {"state": "ok", "argv": [], "command_line": functions.call_text(command.name, *argv)}
    return {
        "state": "ok",
        "argv": argv,
        "command_line": shlex.join(["manage.py", command.name, *argv]),
    }


# -- LaunchReport ----------------------------------------------------------------------------


@admin.register(LaunchReport)
class LaunchReportAdmin(ReportOriginMixin, ReadOnly, admin.ModelAdmin):
    # Read-only, deletion included: the delete confirmation page would load every log line,
    # and old reports are pruned after each run anyway.
    list_display = (
        "report",
        "task_name",
        "result",
        "invocation_datetime",
        "duration_seconds",
        "n_lines",
        "n_warnings",
        "n_errors",
        "progress",
        "links",
    )
    list_select_related = ("task",)
    list_filter = (
        "invocation_result",
        "task__category",
        ("task", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("task__name", "failure_reason")
    date_hierarchy = "invocation_datetime"
    shown_first = (
        "task",
        "result",
        "invocation_datetime",
        "started_at",
        "finished_at",
        "duration",
        "failure_reason",
        "ran_command",
        "ran_with",
        "triggered_by_run",
        "n_lines",
        "n_warnings",
        "n_errors",
        "progress",
        "log_tail",
        "links",
    )

    class Media:
        css = {"all": ("eztaskmanager/eztaskmanager.css",)}

    def get_fields(self, request, obj=None):
        """The main facts first, then every other stored field of the report."""
        hidden = {
            "id",
            "invocation_result",
            "arguments",
            "triggered_by",
            "command",
            "command_name",
            "run_arguments",
            "legacy_arguments",
            "retry_delays",
            "retry_exponential",
            "queue",
            *self.shown_first,
        }
        rest = [name for name in column_names(LaunchReport) if name not in hidden]
        return [*self.shown_first, *rest]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("task")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, unquote(object_id))
        if report is not None:  # a sentence, where str(report) keeps 0.5.x's form
            title = admin_display.report_title(report)
            extra_context = {
                **(extra_context or {}),
                "subtitle": title,
                # Stop / run again buttons (eztaskmanager/includes/run_buttons.html)
                "can_manage_runs": self.has_view_permission(request, report)
                and permissions.may_launch(request.user),
                "report": report,
                "run_finished": report.is_finished,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("report"), ordering="id")
    def report(self, report):
        return f"#{report.pk}"

    @admin.display(description=gettext_lazy("task"), ordering="task__name")
    def task_name(self, report):
        return report.task.name

    @admin.display(description=gettext_lazy("result"), ordering="invocation_result")
    def result(self, report):
        return result_badge(report.invocation_result, queued=report.is_queued)

    @admin.display(description=gettext_lazy("duration (s)"), ordering="duration")
    def duration_seconds(self, report):
        return "-" if report.duration is None else f"{report.duration:.1f}"

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, report):
        return progress_bar(report)

    @admin.display(description=gettext_lazy("log tail"))
    def log_tail(self, report):
        text = report.log_tail()
        return format_html('<pre class="eztm-tail">{}</pre>', text) if text else "-"

    @admin.display(description=gettext_lazy("log"))
    def links(self, report):
        return log_links(report.pk)


# -- AppCommand and TaskCategory -------------------------------------------------------------


@admin.register(AppCommand)
class AppCommandAdmin(admin.ModelAdmin):
    """Rows mirror the command policy: ``collectcommands`` adds and deactivates them.

    Nobody adds, renames or deletes a row here; a superuser may switch ``active`` off and on.
    """

    list_display = ("name", "app_name", "active", "allowed")
    list_editable = ("active",)
    list_filter = ("active", "app_name")
    search_fields = ("name", "app_name")
    ordering = ("app_name", "name")
    readonly_fields = ("name", "app_name", "allowed")
    fields = ("name", "app_name", "active", "allowed")
    actions = ["activate_commands", "deactivate_commands"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description=gettext_lazy("allowed by the policy"))
    def allowed(self, command):
        return policy.why_refused(command.name, command.app_name) or _("yes")

    @admin.action(
        description=gettext_lazy("Activate the selected commands"), permissions=["change"]
    )
    def activate_commands(self, request, queryset):
        rows = list(queryset)
        allowed = [c.pk for c in rows if policy.why_refused(c.name, c.app_name) is None]
        count = AppCommand.objects.filter(pk__in=allowed).update(active=True)
        self.message_user(
            request, ngettext("%d command activated.", "%d commands activated.", count) % count
        )
        refused = [c.name for c in rows if c.pk not in allowed]
        if refused:
            self.message_user(
                request,
                _("Not activated, as the command policy does not allow them: %(names)s.")
                % {"names": ", ".join(refused)},
                messages.WARNING,
            )

    @admin.action(
        description=gettext_lazy("Deactivate the selected commands"), permissions=["change"]
    )
    def deactivate_commands(self, request, queryset):
        count = queryset.update(active=False)
        self.message_user(
            request, ngettext("%d command deactivated.", "%d commands deactivated.", count) % count
        )


class TaskInline(ReadOnly, admin.TabularInline):
    model = Task
    fields = ("name", "command", "status", "cached_last_invocation_result", "cached_next_ride")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("command")


@admin.register(TaskCategory)
class TaskCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "n_tasks")
    search_fields = ("name",)
    inlines = [TaskInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tasks_count=Count("task"))

    @admin.display(description=gettext_lazy("tasks"), ordering="tasks_count")
    def n_tasks(self, category):
        return category.tasks_count

    def get_deleted_objects(self, objs, request):
        """Tasks keep their category (no cascade): a category in use cannot be deleted."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        in_use = Task.objects.filter(category__in=list(objs)).order_by("name")
        protected = list(protected) + [
            format_html("{}: {}", Task._meta.verbose_name.capitalize(), task.name)
            for task in in_use
        ]
        return deleted, model_count, perms_needed, protected
