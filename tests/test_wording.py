"""The words of the admin and the viewer: plural forms, lower-case labels, one set of state
words, titles that read as sentences; in English and in Italian."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from eztaskmanager.admin import display as admin_display
from eztaskmanager.models import AppCommand, LaunchReport, Task, TaskCategory
from tests import factories
from tests.admin.test_admin import (
    add_report,
    change_url,
    changelist_url,
    fake_queue,
    form_data,
    messages_of,
)

pytestmark = pytest.mark.django_db
__all__ = ["fake_queue"]  # a fixture used here


def text_of(response) -> str:
    text = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    return re.sub(r"\s+([);,.])", r"\1", text)


@pytest.mark.parametrize(
    "errors, warnings, english, italian",
    [
        (1, 1, "1 error, 1 warning: open the log", "1 errore, 1 avviso: apri il log"),
        (0, 2, "0 errors, 2 warnings: open the log", "0 errori, 2 avvisi: apri il log"),
    ],
)
def test_counts_use_plural_forms(errors, warnings, english, italian):
    assert admin_display.counts_text(errors, warnings) == english
    with translation.override("it"):
        assert admin_display.counts_text(errors, warnings) == italian


def test_the_task_list_links_the_last_result_with_its_counts(admin_client, make_task):
    task = make_task(name="counted")
    add_report(task, "warnings", [("WARNING", "one")])
    body = admin_client.get(changelist_url()).content.decode()
    assert 'title="0 errors, 1 warning: open the log"' in body


def test_labels_are_lower_case_words(admin_client):
    assert str(TaskCategory._meta.verbose_name_plural) == "task categories"
    assert [str(label) for _, label in Task.REPETITION_PERIOD_CHOICES] == [
        "second", "minute", "hour", "day", "week", "month",
    ]  # fmt: skip
    assert str(LaunchReport._meta.get_field("invocation_datetime").verbose_name) == "launched at"
    index = text_of(admin_client.get(reverse("admin:app_list", args=["eztaskmanager"])))
    assert "Task categories" in index and "Tasks categories" not in index
    add_report(factories.make_task(AppCommand.objects.create(name="x"), name="t"))
    reports = text_of(admin_client.get(changelist_url("launchreport")))
    assert "Launched at" in reports and "By result" in reports


def test_one_set_of_state_words_in_filter_column_and_viewer(admin_client, make_task):
    assert [str(label) for _, label in Task.STATUS_CHOICES] == [
        "idle", "queued", "scheduled", "running",
    ]  # fmt: skip
    assert [str(label) for value, label in LaunchReport.RESULT_CHOICES if value] == [
        "ok", "failed", "errors", "warnings",
    ]  # fmt: skip
    task = make_task(name="worded")
    Task.objects.filter(pk=task.pk).update(status=Task.STATUS_SPOOLED)
    listing = admin_client.get(changelist_url())
    filters = [choice["display"] for spec in listing.context["cl"].filter_specs
               for choice in spec.choices(listing.context["cl"])]  # fmt: skip
    assert {"idle", "queued", "scheduled", "running"} <= {str(d) for d in filters}
    assert {"ok", "warnings", "errors", "failed"} <= {str(d) for d in filters}
    assert 'eztm-state-queued" title="waiting for a worker">queued<' in listing.content.decode()

    Task.objects.filter(pk=task.pk).update(status=Task.STATUS_IDLE)
    report = add_report(task, "warnings", [("WARNING", "careful")])
    viewer = text_of(admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk])))
    assert "warnings (task: idle)" in viewer
    assert "WARNINGS" not in viewer and "IDLE" not in viewer
    assert "1; warnings: 1; errors: 0" in viewer


def test_a_task_is_named_by_its_name_in_the_admin_messages(admin_client, make_task):
    task = make_task(name="Import prices")
    assert str(task) == "Import prices"
    response = admin_client.post(
        change_url(task), form_data(admin_client, change_url(task)), follow=True
    )
    [message] = messages_of(response)
    assert re.sub(r"<[^>]+>", "", message) == "The Task “Import prices” was changed successfully."
    assert "(idle)" not in message


@override_settings(LANGUAGE_CODE="en-us")
def test_the_scheduled_message_has_one_full_stop(admin_client, make_task, fake_queue):
    task = make_task(name="morning")
    tomorrow = timezone.localdate() + timedelta(days=1)
    when = timezone.make_aware(
        datetime.combine(tomorrow, datetime.min.time()).replace(hour=6, minute=10)
    )
    data = form_data(admin_client, change_url(task), scheduling=when)
    response = admin_client.post(change_url(task), data, follow=True)
    [message] = [m for m in messages_of(response) if "is scheduled" in m]
    assert message.startswith("“morning” is scheduled; next run at")
    assert "6:10 a.m." in message and not message.endswith("..")


def test_the_report_page_title_reads_as_a_sentence_and_str_keeps_its_0_5_form(
    admin_client, make_task
):
    task = make_task(name="Long import")
    report = add_report(task, "ok")
    started = timezone.make_aware(datetime(2026, 12, 4, 6, 12))
    LaunchReport.objects.filter(pk=report.pk).update(started_at=started)
    report.refresh_from_db()

    assert admin_display.report_title(report) == "Long import, ok, 4 Dec 2026 06:12"
    assert str(report) == f"LaunchReport Long import ok {report.invocation_datetime}"  # 0.5.x
    page = text_of(admin_client.get(change_url(report, "launchreport")))
    assert "Long import, ok, 4 Dec 2026 06:12" in page
    assert "LaunchReport Long import" not in page


def test_the_0_5_argument_rule_is_shown_only_for_tasks_that_have_it(admin_client, make_task):
    add = admin_client.get(reverse("admin:eztaskmanager_task_add")).content.decode()
    assert 'name="legacy_arguments"' not in add
    fresh = make_task(name="fresh")
    assert 'name="legacy_arguments"' not in admin_client.get(change_url(fresh)).content.decode()
    migrated = make_task(name="from 0.5", legacy_arguments=True)
    page = admin_client.get(change_url(migrated)).content.decode()
    assert 'name="legacy_arguments"' in page and "0.5.x argument rule" in page

    # Unticked and saved, it follows the current rule, and the box goes.
    data = form_data(admin_client, change_url(migrated))
    data.pop("legacy_arguments", None)
    assert admin_client.post(change_url(migrated), data).status_code == 302
    migrated.refresh_from_db()
    assert not migrated.legacy_arguments
    assert 'name="legacy_arguments"' not in admin_client.get(change_url(migrated)).content.decode()
    assert AppCommand.objects.exists()
