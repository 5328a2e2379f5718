"""The task admin's launch, stop, resume, schedule and save: permission checks and messages around
``operations``. ``TaskAdmin`` mixes these in; they decide nothing the operations layer decides."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from eztaskmanager import operations
from eztaskmanager.backends import BackendError, get_backend
from eztaskmanager.core import permissions
from eztaskmanager.core.dates import local_display
from eztaskmanager.internals.django import missing_object_redirect, unquote
from eztaskmanager.models import AppCommand, Task
from eztaskmanager.operations import audit, authorisation

# Fields that set when a task runs; those the Task model has are used.
SCHEDULE_FIELDS = (
    "scheduling",
    "repetition_period",
    "repetition_rate",
    "cron_expression",
    "schedule_enabled",
)
# Longest one-off arguments text a launch accepts.
MAX_ARGUMENTS_LENGTH = 10_000


HELD_MESSAGE = gettext_lazy(
    "“%(task)s” is unscheduled: what it runs changed, and you may not launch tasks. It runs "
    "on its schedule again once somebody who may launch tasks approves it (saves it unchanged "
    "or launches it)."
)
HELD_IDLE_MESSAGE = gettext_lazy(
    "“%(task)s” is held: what it runs changed, and you may not launch tasks. No schedule or "
    "follow-up runs it until somebody who may launch tasks approves it (saves it unchanged or "
    "launches it)."
)
APPROVED_MESSAGE = gettext_lazy("You approved what “%(task)s” runs.")


def schedule_fields() -> tuple[str, ...]:
    names = {field.name for field in Task._meta.get_fields()}
    return tuple(name for name in SCHEDULE_FIELDS if name in names)


def local_time(when) -> str:
    return local_display(when)


def find_command(pk) -> AppCommand | None:
    try:
        return AppCommand.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def quoted_names(tasks) -> str:
    return ", ".join(f"“{task.name}”" for task in tasks)


class TaskOperationsMixin:
    """Admin actions and schedule changes of tasks, with their own permission."""

    def has_launch_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.launch_task")

    @admin.action(description=gettext_lazy("Launch the selected tasks now"), permissions=["launch"])
    def launch_tasks(self, request, queryset):
        self.launch(request, list(queryset))

    @admin.action(
        description=gettext_lazy("Stop (unschedule) the selected tasks"), permissions=["launch"]
    )
    def stop_tasks(self, request, queryset):
        self.stop(request, list(queryset))

    def backend(self, request):
        try:
            return get_backend()
        except BackendError as exc:
            self.message_user(
                request, _("The task queue is not available: %s") % exc, messages.ERROR
            )
            return None

    def on_each_task(self, request, tasks: list[Task], action, failure: str) -> list:
        """The outcome of ``action(task)`` for each task that worked; a message for each that
        did not. When the queue cannot be reached at all, the remaining tasks are not tried
        (each attempt would wait for the same connection time-out)."""
        done = []
        for index, task in enumerate(tasks):
            try:
                done.append(action(task))
            except BackendError as exc:
                self.message_user(
                    request, failure % {"task": task.name, "error": exc}, messages.ERROR
                )
                if self.gave_up(request, exc, tasks[index + 1 :]):
                    break
        return done

    def gave_up(self, request, exc: BackendError, rest: list[Task]) -> bool:
        """Whether to leave ``rest`` untried after ``exc``: when the queue cannot be reached,
        each would wait for the same time-out; the user is told which were not tried."""
        if not (rest and exc.unreachable):
            return False
        self.message_user(
            request,
            _("Not tried, as the queue cannot be reached: %(tasks)s.")
            % {"tasks": quoted_names(rest)},
            messages.ERROR,
        )
        return True

    def launch(self, request, tasks: list[Task], arguments: str | None = None) -> None:
        """Launch ``tasks``; with ``arguments``, each runs once with those instead of its own."""
        backend = self.backend(request)
        if backend is None:
            return
        failure = _("“%(task)s” was not launched: %(error)s")
        outcomes = self.on_each_task(
            request,
            tasks,
            lambda t: operations.launch(
                t, backend, defer=False, user=request.user, arguments=arguments
            ),
            failure,
        )
        for outcome in outcomes:
            if outcome.report is not None:
                self.message_user(
                    request,
                    _("“%(task)s” ran: %(result)s.")
                    % {
                        "task": outcome.task.name,
                        "result": outcome.report.get_invocation_result_display(),
                    },
                    messages.SUCCESS,
                )
        queued = [o.task for o in outcomes if o.state == operations.QUEUED]
        if queued:
            self.message_user(
                request,
                _("Queued for a worker: %(tasks)s.") % {"tasks": quoted_names(queued)},
                messages.SUCCESS,
            )

    def stop(self, request, tasks: list[Task]) -> None:
        backend = self.backend(request)
        if backend is None:
            return
        failure = _("“%(task)s” was not stopped: %(error)s")
        by = request.user.get_username()
        stop = lambda t: operations.stop(t, by, backend, defer=False, user=request.user)  # noqa: E731
        for outcome in self.on_each_task(request, tasks, stop, failure):
            if outcome.stopped_runs:
                text = _(
                    "“%(task)s” is stopped (its schedule, if any, is paused) and its running run "
                    "was asked to stop; its report ends “stopped by %(user)s”."
                )
            else:
                text = _(
                    "“%(task)s” is stopped (its schedule, if any, is paused); it had no "
                    "running run."
                )
            self.message_user(
                request, text % {"task": outcome.task.name, "user": by}, messages.SUCCESS
            )

    def schedule_after_save(self, request, task: Task) -> None:
        """Apply ``task``'s schedule once the change form's transaction has committed."""
        request.eztaskmanager_to_schedule = task

    def changeform_view(self, request, *args, **kwargs):
        # The admin saves in a transaction that ends inside super(): Redis is written after it,
        # so a rolled-back save leaves nothing behind, and the message still reaches the page.
        response = super().changeform_view(request, *args, **kwargs)
        task = getattr(request, "eztaskmanager_to_schedule", None)
        if task is not None:
            del request.eztaskmanager_to_schedule
            self.apply_schedule(request, task)
        return response

    def apply_schedule(self, request, task: Task) -> None:
        backend = self.backend(request)
        if backend is None:
            return
        try:
            outcome = operations.apply_schedule(task, backend, defer=False, user=request.user)
        except BackendError as exc:
            text = _("“%(task)s” was saved, but its schedule was not applied: %(error)s")
            if exc.unreachable and task.schedule_enabled:
                text += " " + _("The scheduler applies it once the task queue is reachable.")
            self.message_user(request, text % {"task": task.name, "error": exc}, messages.ERROR)
            return
        if outcome.state == operations.UNSCHEDULED:
            self.message_user(
                request, _("“%(task)s” is no longer scheduled.") % {"task": task.name}
            )
        elif outcome.state == operations.PAUSED:
            self.message_user(
                request,
                _("“%(task)s” keeps its schedule, paused: it does not run on it until resumed.")
                % {"task": task.name},
            )
        elif outcome.state == operations.SCHEDULED:
            self.message_user(
                request,
                _("“%(task)s” is scheduled; next run at %(when)s")
                % {"task": task.name, "when": local_time(outcome.when)},
            )


class TaskResumeMixin:
    """Resume: a paused schedule turned back on and applied, with the launch permission."""

    @admin.action(
        description=gettext_lazy("Resume the schedule of the selected tasks"),
        permissions=["launch"],
    )
    def resume_tasks(self, request, queryset):
        self.resume(request, list(queryset))

    def resume(self, request, tasks: list[Task]) -> None:
        """Turn the paused schedules of ``tasks`` back on and apply them."""
        backend = self.backend(request)
        if backend is None:
            return
        by = request.user.get_username()
        for index, task in enumerate(tasks):
            try:
                outcome = operations.resume(task, backend, defer=False, user=request.user, by=by)
            except operations.BadArguments as exc:  # no schedule to resume
                self.message_user(request, str(exc), messages.WARNING)
                continue
            except BackendError as exc:
                if exc.unreachable and task.schedule_enabled:  # the next sync applies it
                    text = _(
                        "“%(task)s” is resumed, but its schedule was not applied: %(error)s. "
                        "The scheduler applies it once the task queue is reachable."
                    )
                else:
                    text = _("“%(task)s” was not resumed: %(error)s")
                self.message_user(request, text % {"task": task.name, "error": exc}, messages.ERROR)
                if self.gave_up(request, exc, tasks[index + 1 :]):
                    break
                continue
            self.message_user(
                request,
                _("“%(task)s” is resumed; next run at %(when)s")
                % {"task": task.name, "when": local_time(outcome.when)},
                messages.SUCCESS,
            )


def column_names(model) -> list[str]:
    """Names of ``model``'s fields that are columns of its table, in their order.

    From the documented ``Model._meta.get_fields()`` and field flags (not the undocumented
    ``_meta.concrete_fields``).
    """
    return [
        field.name
        for field in model._meta.get_fields()
        if field.concrete and not field.many_to_many
    ]


class TaskButtonsMixin:
    """The change form's launch and stop buttons: POST only, with the launch permission."""

    def operation_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/launch/", wrap(self.launch_view), name=f"{prefix}_launch"),
            path("<path:object_id>/stop/", wrap(self.stop_view), name=f"{prefix}_stop"),
            path("<path:object_id>/resume/", wrap(self.resume_view), name=f"{prefix}_resume"),
        ]

    def admin_url(self, name: str, *args) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args
        )

    def task_button_view(self, request, object_id, do):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_launch_permission(request):
            raise PermissionDenied
        task = self.get_object(request, unquote(object_id))
        if task is None:
            return missing_object_redirect(self, request, object_id)
        if not self.has_view_or_change_permission(request, task):
            raise PermissionDenied
        do(request, [task])
        return redirect(self.admin_url("change", task.pk))

    def launch_view(self, request, object_id):
        """Launch the task; a POSTed ``arguments`` field runs it once with those arguments."""
        arguments = request.POST.get("arguments") if request.method == "POST" else None
        if arguments is None:
            return self.task_button_view(request, object_id, self.launch)
        if len(arguments) > MAX_ARGUMENTS_LENGTH:
            arguments = None  # refused below, with a message, instead of reaching a parser
        return self.task_button_view(
            request, object_id, lambda r, tasks: self.launch_once(r, tasks, arguments)
        )

    def launch_once(self, request, tasks: list[Task], arguments: str | None) -> None:
        if arguments is None:
            self.message_user(
                request,
                _("Arguments longer than %(n)d characters are not accepted.")
                % {"n": MAX_ARGUMENTS_LENGTH},
                messages.ERROR,
            )
            return
        self.launch(request, tasks, arguments=arguments.strip())

    def stop_view(self, request, object_id):
        return self.task_button_view(request, object_id, self.stop)

    def resume_view(self, request, object_id):
        return self.task_button_view(request, object_id, self.resume)


class TaskSaveMixin:
    """Saving a task: only the fields the form edits, the change recorded in the history, the
    hold of a task changed without the launch permission (or its approval by somebody with
    it), the schedule applied."""

    def save_model(self, request, obj, form, change):
        held = change and authorisation.is_held(obj)
        if change:
            # Only what the form edits: the worker may be updating status and caches meanwhile.
            names = set(column_names(type(obj)))
            obj.save(update_fields=[name for name in form.fields if name in names])
        else:
            obj.save()
        approved = False
        if not change:
            if authorisation.created(obj, request.user):
                self.message_user(request, HELD_IDLE_MESSAGE % {"task": obj.name}, messages.WARNING)
        elif not form.has_changed():
            # Saving the task as it stands approves what it runs (when the user may launch).
            approved = authorisation.saved_unchanged(obj, request.user)
        else:
            self.audit_run_change(request, obj, form)
            was_scheduled = permissions.is_scheduled_now(obj)
            if operations.hold_if_unauthorised(obj, request.user, form.changed_data):
                text = HELD_MESSAGE if was_scheduled else HELD_IDLE_MESSAGE
                self.message_user(request, text % {"task": obj.name}, messages.WARNING)
            else:
                approved = held and not authorisation.is_held(obj)
        if approved:
            audit.record(obj, request.user, "Approved what it runs")
            self.message_user(request, APPROVED_MESSAGE % {"task": obj.name})
        schedule_changed = set(schedule_fields()) & set(form.changed_data)
        # A schedule that is on but has no job (saved while Redis was down) is applied too.
        if (schedule_changed or approved or obj.schedule_pending) and self.has_launch_permission(
            request
        ):
            self.schedule_after_save(request, obj)

    def audit_run_change(self, request, obj, form) -> None:
        """Record a change of what the task runs, with the old and the new values."""
        if not form.initial or not (permissions.RUN_FIELDS & set(form.changed_data)):
            return
        old_command = find_command(form.initial.get("command"))
        before = {
            key: form.initial.get(key) for key in permissions.RUN_FIELDS if key in form.initial
        }
        before["command"] = old_command.name if old_command else None
        after = audit.run_values(obj)
        after = {key: value for key, value in after.items() if key in before}
        message = audit.run_change(before, after)
        if message:
            audit.record(obj, request.user, message)
