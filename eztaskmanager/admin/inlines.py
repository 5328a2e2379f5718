"""The admin's pieces for follow-up tasks and one-off arguments.

``FollowUpInline`` edits, on a task's page, the tasks launched when one of its runs ends; a set
of follow-ups that would close a cycle is refused with the cycle named. Adding or changing a
follow-up starts runs, so it takes the launch permission, as a schedule does.
``origin_fields`` shows on a report what it ran with and which run launched it.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from eztaskmanager.models import FollowUp, LaunchReport
from eztaskmanager.operations.followups import cycle_text, cycle_through


class FollowUpFormSet(BaseInlineFormSet):
    """Refuses follow-ups that would make a task launch itself, directly or through others.

    A POST that carries no follow-up rows at all (no management form: a client that does not
    show them) leaves the follow-ups as they are instead of failing the whole save.
    """

    def __init__(self, data=None, files=None, *args, **kwargs):
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        if data is not None and f"{prefix}-TOTAL_FORMS" not in data:
            data = files = None
        super().__init__(data, files, *args, **kwargs)

    def is_valid(self) -> bool:
        return True if not self.is_bound else super().is_valid()

    def save(self, commit=True):
        if not self.is_bound:
            self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
            return []
        return super().save(commit)

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        self.check_unique()
        if any(self.errors):
            return
        thens = [
            form.cleaned_data["then"].pk
            for form in self.forms
            if form.cleaned_data
            and form.cleaned_data.get("then") is not None
            and not form.cleaned_data.get("DELETE")
        ]
        cycle = cycle_through(self.instance.pk, thens)
        if cycle:
            raise ValidationError(
                _("Follow-up tasks may not form a cycle: %(cycle)s.")
                % {"cycle": cycle_text(cycle)},
                code="cycle",
            )

    def check_unique(self) -> None:
        """A form error on each row whose follow-up the task has already: in another row, or
        saved meanwhile (from another tab) though this page does not show it."""
        kept = [
            form
            for form in self.forms
            if form.cleaned_data
            and form.cleaned_data.get("then") is not None
            and not form.cleaned_data.get("DELETE")
        ]
        shown = {form.instance.pk for form in self.forms if form.instance.pk}
        saved = set(
            FollowUp.objects.filter(task=self.instance)
            .exclude(pk__in=shown)
            .values_list("then_id", flat=True)
        )
        seen = set()
        for form in kept:
            then = form.cleaned_data["then"]
            if then.pk in saved or then.pk in seen:
                form.add_error(
                    "then",
                    _(
                        "“%(task)s” is already a follow-up of this task (maybe added in another "
                        "tab or window): reload the page to see it."
                    )
                    % {"task": then.name},
                )
            seen.add(then.pk)


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    fk_name = "task"
    formset = FollowUpFormSet
    fields = ("then", "results")
    extra = 0
    verbose_name = gettext_lazy("follow-up task")
    verbose_name_plural = gettext_lazy("Follow-up tasks: launched when a run of this task ends")

    def may_edit(self, request, obj) -> bool:
        # The task's permissions, not the FollowUp model's: the rows are part of the task.
        return request.user.has_perm("eztaskmanager.launch_task") and request.user.has_perm(
            "eztaskmanager.change_task"
        )

    def has_add_permission(self, request, obj=None):
        return self.may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.may_edit(request, obj)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("eztaskmanager.view_task") or request.user.has_perm(
            "eztaskmanager.change_task"
        )


def report_link(report_id: int | None, label: str):
    if report_id is None:
        return "-"
    try:
        url = reverse("admin:eztaskmanager_launchreport_change", args=[report_id])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


class ReportOriginMixin:
    """Report page fields: the arguments a run was given, and the run that launched it."""

    origin_fields = ("ran_command", "ran_with", "triggered_by_run")

    @admin.display(description=gettext_lazy("command"))
    def ran_command(self, report: LaunchReport):
        """The command the launch recorded (the task's, for a report from before 0015)."""
        return format_html("<code>{}</code>", report.ran_command_name)

    @admin.display(description=gettext_lazy("arguments"))
    def ran_with(self, report: LaunchReport):
        """The arguments the launch recorded, and whose they were."""
        if not report.is_recorded and report.arguments is None:
            return _("the task's own")
        text = format_html("<code>{}</code>", report.ran_arguments or _("(none)"))
        if report.arguments is not None:
            whose = _("run once with these arguments")
        else:
            whose = _("the task's own, as they were at the launch")
        if report.is_recorded and report.legacy_arguments:
            whose = _("%(whose)s; 0.5.x argument rule") % {"whose": whose}
        return format_html("{} ({})", text, whose)

    @admin.display(description=gettext_lazy("triggered by"))
    def triggered_by_run(self, report: LaunchReport):
        if report.triggered_by_id is None:
            return "-"
        return report_link(report.triggered_by_id, f"#{report.triggered_by_id}")
