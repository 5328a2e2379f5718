"""A schedule on or paused (``Task.schedule_enabled``): sync, Stop, Resume, the form, the CLI,
tasks-as-code, the status and the permissions around Resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from eztaskmanager import operations
from eztaskmanager.admin.display import next_run_cell, state_badge
from eztaskmanager.backends import RQBackend
from eztaskmanager.cli.tasks_as_code import export_tasks, load_tasks
from eztaskmanager.models import Task
from eztaskmanager.operations import audit
from eztaskmanager.scheduler.sync import sync_schedules
from tests.admin.test_admin import (
    EDITOR,
    LAUNCHER,
    change_url,
    changelist_url,
    fake_queue,
    form_data,
    messages_of,
    redis_down,
    staff_client,
)
from tests.cli.test_cli import taskmanager
from tests.factories import make_superuser, make_user, running_report

__all__ = ["fake_queue", "redis_down", "staff_client"]  # fixtures used here

pytestmark = pytest.mark.django_db


def jobs(service) -> dict[str, datetime]:
    key = service.scheduler.scheduled_jobs_key
    return {
        job_id.decode(): datetime.fromtimestamp(score, tz=UTC)
        for job_id, score in service.connection.zrange(key, 0, -1, withscores=True)
    }


def every_minute(make_task, name="every minute"):
    return make_task(name=name, repetition_period="minute", repetition_rate=1)


def resume_url(task):
    return reverse("admin:eztaskmanager_task_resume", args=[task.pk])


def stop_url(task):
    return reverse("admin:eztaskmanager_task_stop", args=[task.pk])


# -- the sync ------------------------------------------------------------------------------


def test_sync_applies_an_enabled_schedule_that_has_no_job(make_task, fake_backend):
    # As saved in the admin while Redis was down: on, with no job.
    task = make_task(name="nightly", cron_expression="30 2 * * *")
    assert task.schedule_enabled and task.schedule_pending

    result = sync_schedules(fake_backend)

    task.refresh_from_db()
    assert result.applied == [task.pk] and result.restored == []
    assert "1 applied" in str(result)
    assert list(jobs(fake_backend)) == [task.scheduled_job_id]
    assert task.status == Task.STATUS_SCHEDULED
    assert task.cached_next_ride == task.schedule.next_run()
    assert jobs(fake_backend)[task.scheduled_job_id] == task.cached_next_ride
    assert not sync_schedules(fake_backend).changed


def test_sync_leaves_a_held_schedule_alone_until_it_is_approved(make_task, fake_backend):
    # Saved by an editor without the launch permission: on, no job, and held.

    from eztaskmanager.operations import authorisation

    task = make_task(name="nightly", cron_expression="30 2 * * *")
    authorisation.hold(task, make_user("editor"))

    assert not sync_schedules(fake_backend).applied
    assert jobs(fake_backend) == {}

    authorisation.approve(task, make_superuser("boss"))
    assert sync_schedules(fake_backend).applied == [task.pk]
    assert len(jobs(fake_backend)) == 1


def test_sync_applies_a_repetition_without_a_start_from_now(make_task, fake_backend):
    task = every_minute(make_task)
    sync_schedules(fake_backend)
    task.refresh_from_db()
    assert task.scheduling is not None and task.status == Task.STATUS_SCHEDULED
    assert task.cached_next_ride == task.scheduling  # a repetition's first run is its start
    assert list(jobs(fake_backend)) == [task.scheduled_job_id]


def test_sync_drops_the_job_of_a_paused_schedule(make_task, fake_backend):
    task = every_minute(make_task)
    operations.schedule(task, fake_backend, defer=False)
    Task.objects.filter(pk=task.pk).update(schedule_enabled=False)  # paused behind its back

    result = sync_schedules(fake_backend)

    task.refresh_from_db()
    assert result.paused == [task.pk]
    assert jobs(fake_backend) == {}
    assert (task.status, task.scheduled_job_id, task.schedule_paused) == ("idle", None, True)


def test_a_stopped_schedule_stays_off_whatever_happens_to_redis(make_task, fake_backend):
    task = every_minute(make_task)
    operations.schedule(task, fake_backend, defer=False)
    operations.stop(task, "admin", fake_backend, defer=False)
    fake_backend.connection.flushall()

    assert not sync_schedules(fake_backend).changed
    assert jobs(fake_backend) == {}


def test_a_one_off_that_ran_is_done_not_paused(make_task, fake_backend):
    when = timezone.now() - timedelta(minutes=5)
    task = make_task(name="once", scheduling=when)  # on, no job: its job fired, then Redis went
    running_report(task, heartbeat=False, started_at=when + timedelta(seconds=1))

    result = sync_schedules(fake_backend)

    task.refresh_from_db()
    assert result.unscheduled == [task.pk] and jobs(fake_backend) == {}
    assert (task.schedule_enabled, task.schedule_done, task.schedule_paused) == (False, True, False)
    assert "done" in next_run_cell(task) and "paused" not in state_badge(task)
    assert cli_row(task)["schedule_state"] == "done"


@pytest.mark.redis  # the run takes its lock in the real Redis
def test_a_one_off_fired_by_the_scheduler_is_done(make_task, fake_backend):
    from eztaskmanager.runs import run_task

    task = make_task(name="once", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    Task.objects.filter(pk=task.pk).update(scheduling=timezone.now() - timedelta(seconds=1))

    run_task(task.pk, scheduled=True)

    task.refresh_from_db()
    assert (task.scheduled_job_id, task.schedule_enabled, task.schedule_done) == (None, False, True)
    result = sync_schedules(fake_backend)
    assert (result.applied, result.restored) == ([], [])  # not run again


# -- the admin: Stop pauses, Resume and save-with-enabled bring it back ----------------------


def test_stop_then_resume_through_the_admin_actions(admin_client, make_task, fake_queue):
    task = every_minute(make_task)
    operations.schedule(task, fake_queue, defer=False)

    admin_client.post(changelist_url(), {"action": "stop_tasks", "_selected_action": [task.pk]})

    task.refresh_from_db()
    assert fake_queue.scheduler.count() == 0
    assert (task.status, task.schedule_enabled, task.repetition_period) == ("idle", False, "minute")
    listing = admin_client.get(changelist_url()).content.decode()
    assert 'class="eztm-state eztm-state-paused"' in listing
    assert '<span class="eztm-paused"' in listing and "every minute" in listing
    page = admin_client.get(change_url(task))
    assert page.context["adminform"].form["schedule_enabled"].value() is False
    assert 'id="eztm-schedule-paused"' in page.content.decode()
    assert f'action="{resume_url(task)}"' in page.content.decode()

    response = admin_client.post(
        changelist_url(),
        {"action": "resume_tasks", "_selected_action": [task.pk]},
        follow=True,
    )

    task.refresh_from_db()
    [message] = messages_of(response)
    assert message.startswith("“every minute” is resumed; next run at")
    assert list(jobs(fake_queue)) == [task.scheduled_job_id]
    assert task.status == Task.STATUS_SCHEDULED and task.schedule_enabled
    # Its next run on the repetition: the start itself, or a minute after it.
    assert task.cached_next_ride in (task.scheduling, task.scheduling + timedelta(minutes=1))
    assert jobs(fake_queue)[task.scheduled_job_id] == task.cached_next_ride
    history = [e.get_change_message() for e in audit.history(task)]
    assert history[-3].startswith("Stopped by admin")
    assert history[-2:][0] == "Resumed by admin" and history[-1].startswith("Scheduled")
    listing = admin_client.get(changelist_url()).content.decode()
    assert "eztm-state-paused" not in listing and "eztm-state-scheduled" in listing


def test_stop_then_resume_through_the_task_page_buttons(admin_client, make_task, fake_queue):
    task = make_task(name="nightly", cron_expression="30 2 * * *")
    operations.schedule(task, fake_queue, defer=False)
    page = admin_client.get(change_url(task)).content.decode()
    assert f'action="{resume_url(task)}"' not in page  # on: nothing to resume

    admin_client.post(stop_url(task))
    assert fake_queue.scheduler.count() == 0

    response = admin_client.post(resume_url(task))
    assert response.status_code == 302 and response["Location"] == change_url(task)
    task.refresh_from_db()
    assert list(jobs(fake_queue)) == [task.scheduled_job_id]
    assert jobs(fake_queue)[task.scheduled_job_id] == task.schedule.next_run()
    assert task.cached_next_ride == task.schedule.next_run()


def test_a_paused_task_saved_with_schedule_on_ticked_runs_again(
    admin_client, make_task, fake_queue
):
    task = every_minute(make_task)
    operations.schedule(task, fake_queue, defer=False)
    operations.stop(task, "admin", fake_queue, defer=False)

    # Saved as shown (paused): it stays paused, its schedule kept.
    admin_client.post(change_url(task), form_data(admin_client, change_url(task), note="n"))
    task.refresh_from_db()
    assert (task.note, task.schedule_paused, fake_queue.scheduler.count()) == ("n", True, 0)

    data = form_data(admin_client, change_url(task), schedule_enabled="on")
    response = admin_client.post(change_url(task), data, follow=True)

    task.refresh_from_db()
    assert any(m.startswith("“every minute” is scheduled") for m in messages_of(response))
    assert task.status == Task.STATUS_SCHEDULED and task.schedule_enabled
    assert list(jobs(fake_queue)) == [task.scheduled_job_id]


def test_unticking_schedule_on_pauses_the_schedule(admin_client, make_task, fake_queue):
    task = every_minute(make_task)
    operations.schedule(task, fake_queue, defer=False)
    data = form_data(admin_client, change_url(task))
    del data["schedule_enabled"]

    response = admin_client.post(change_url(task), data, follow=True)

    task.refresh_from_db()
    assert task.schedule_paused and fake_queue.scheduler.count() == 0
    assert messages_of(response)[-1] == (
        "“every minute” keeps its schedule, paused: it does not run on it until resumed."
    )
    assert audit.history(task)[-1].get_change_message() == "Paused"


def test_saving_while_redis_is_down_keeps_the_schedule_on_for_the_next_sync(
    admin_client, make_task, redis_down, fake_redis
):
    task = make_task(name="offline")
    data = form_data(admin_client, change_url(task), repetition_period="second")
    data["repetition_rate"] = "3"

    response = admin_client.post(change_url(task), data, follow=True)

    [message] = [m for m in messages_of(response) if "not applied" in m]
    assert message.endswith("The scheduler applies it once the task queue is reachable.")
    task.refresh_from_db()
    assert (task.status, task.scheduled_job_id, task.schedule_enabled) == ("idle", None, True)
    listing = admin_client.get(changelist_url()).content.decode()
    assert "eztm-state-pending" in listing

    backend = RQBackend(connection=fake_redis)  # Redis is back
    assert sync_schedules(backend).applied == [task.pk]
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED
    assert list(jobs(backend)) == [task.scheduled_job_id]


def test_saving_a_pending_schedule_again_applies_it(admin_client, make_task, fake_queue):
    task = every_minute(make_task)  # on, without a job (Redis was down when it was saved)
    admin_client.post(change_url(task), form_data(admin_client, change_url(task), note="again"))
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED
    assert list(jobs(fake_queue)) == [task.scheduled_job_id]


def test_resuming_a_one_off_in_the_past_says_why_and_it_is_done(
    admin_client, make_task, fake_queue
):
    task = make_task(name="late", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_queue, defer=False)
    operations.stop(task, "admin", fake_queue, defer=False)
    Task.objects.filter(pk=task.pk).update(scheduling=timezone.now() - timedelta(minutes=1))

    response = admin_client.post(resume_url(task), follow=True)

    assert messages_of(response) == [
        "“late” was not resumed: It is not possible to schedule tasks in the past."
    ]
    task.refresh_from_db()
    assert task.schedule_done and fake_queue.scheduler.count() == 0
    assert 'id="eztm-schedule-done"' in admin_client.get(change_url(task)).content.decode()


def test_resuming_a_task_without_a_schedule_is_a_message(admin_client, make_task, fake_queue):
    task = make_task(name="plain")
    response = admin_client.post(resume_url(task), follow=True)
    assert messages_of(response) == ["“plain” has no schedule to resume."]
    assert fake_queue.scheduler.count() == 0 and not audit.history(task)


# -- permissions ---------------------------------------------------------------------------


def test_resume_takes_the_launch_permission_post_and_csrf(
    staff_client, admin_user, make_task, fake_queue
):
    task = every_minute(make_task)
    operations.schedule(task, fake_queue, defer=False)
    operations.stop(task, "admin", fake_queue, defer=False)
    entries = LogEntry.objects.count()
    editor = staff_client(*EDITOR)

    assert editor.post(resume_url(task)).status_code == 403
    page = editor.get(change_url(task)).content.decode()
    assert "/resume/" not in page
    assert "resume_tasks" not in editor.get(changelist_url()).content.decode()
    response = editor.post(
        changelist_url(), {"action": "resume_tasks", "_selected_action": [task.pk]}, follow=True
    )
    assert response.status_code == 200  # not an action this user has: nothing done

    launcher = staff_client(*LAUNCHER)
    assert launcher.get(resume_url(task)).status_code == 405  # GET does nothing
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)
    assert csrf_client.post(resume_url(task)).status_code == 403  # no CSRF token

    task.refresh_from_db()
    assert task.schedule_paused and fake_queue.scheduler.count() == 0
    assert LogEntry.objects.count() == entries

    assert launcher.post(resume_url(task)).status_code == 302
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED


# -- the command line ------------------------------------------------------------------------


def cli_row(task) -> dict:
    rows = {row["id"]: row for row in json.loads(taskmanager("list", "--json"))}
    return rows[task.pk]


def test_cli_stop_pauses_and_resume_brings_the_job_back(make_task, real_redis, committed):
    task = make_task(name="hourly", repetition_period="hour", repetition_rate=1)
    service = RQBackend()
    operations.schedule(task, service, defer=False)
    assert cli_row(task)["schedule_state"] == "on"

    with committed():
        assert taskmanager("stop", "hourly").startswith("Stopped 'hourly': schedule paused")

    assert real_redis.zcard(service.scheduler.scheduled_jobs_key) == 0
    row = cli_row(task)
    assert (row["schedule_enabled"], row["schedule_state"]) == (False, "paused")
    assert "every 1 hour (paused)" in taskmanager("list")
    status = json.loads(taskmanager("status", "--json"))
    assert status["paused_schedules"] == {
        "count": 1,
        "tasks": [{"task_id": task.pk, "task": "hourly"}],
    }
    assert "Paused schedules: 1 ('hourly')" in taskmanager("status")

    with committed():
        output = taskmanager("resume", "hourly")

    task.refresh_from_db()
    assert output.startswith("Resumed 'hourly': next run at ")
    assert real_redis.zscore(service.scheduler.scheduled_jobs_key, task.scheduled_job_id)
    assert task.status == Task.STATUS_SCHEDULED and task.cached_next_ride is not None
    assert cli_row(task)["schedule_state"] == "on"
    assert audit.history(task)[-2].get_change_message().startswith("Resumed by ")
    with pytest.raises(CommandError, match="has no schedule to resume"):
        taskmanager("resume", str(make_task(name="plain").pk))


def test_cli_resume_as_a_user_takes_the_launch_permission(make_task, real_redis):

    task = every_minute(make_task)
    Task.objects.filter(pk=task.pk).update(schedule_enabled=False)
    make_user("bob")
    with pytest.raises(CommandError, match="'bob' may not launch or stop tasks"):
        taskmanager("resume", str(task.pk), "--user", "bob")
    task.refresh_from_db()
    assert task.schedule_paused


# -- tasks as code ---------------------------------------------------------------------------


def test_declarations_carry_enabled(make_command, fake_backend):
    declared = [{"name": "nightly", "command": "eztm_echo", "cron_expression": "30 2 * * *"}]
    result = load_tasks([{**declared[0], "enabled": False}], service=fake_backend)

    task = Task.objects.get(name="nightly")
    assert task.schedule_paused and jobs(fake_backend) == {}
    assert result.changes[0].schedule == "paused"
    assert export_tasks() == [{**declared[0], "enabled": False}]

    # Left out, "enabled" stays as it is: an operator's Stop survives a new load.
    assert load_tasks(declared, service=fake_backend).count("unchanged") == 1
    assert Task.objects.get(name="nightly").schedule_paused

    result = load_tasks([{**declared[0], "enabled": True}], service=fake_backend)
    task.refresh_from_db()
    assert result.changes[0].fields == ["enabled"]
    assert task.status == Task.STATUS_SCHEDULED and list(jobs(fake_backend)) == [
        task.scheduled_job_id
    ]
    assert export_tasks() == declared  # on is the default: left out

    with pytest.raises(Exception, match="enabled: true or false"):
        load_tasks([{**declared[0], "enabled": "no"}], service=fake_backend)


# -- the migration -----------------------------------------------------------------------------


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0014_derives_schedule_enabled_from_the_job():
    before = migrate([("eztaskmanager", "0013_task_queue")])
    try:
        AppCommand = before.get_model("eztaskmanager", "AppCommand")
        Task = before.get_model("eztaskmanager", "Task")
        command = AppCommand.objects.create(name="eztm_echo", app_name="tests.testapp")
        soon = timezone.now() + timedelta(hours=1)
        Task.objects.create(name="on", command=command, cron_expression="* * * * *")
        Task.objects.filter(name="on").update(scheduled_job_id="eztm-1-abc", status="scheduled")
        Task.objects.create(name="stopped", command=command, scheduling=soon)
        Task.objects.create(
            name="stopped repetition",
            command=command,
            scheduling=soon,
            repetition_period="day",
            repetition_rate=1,
        )
        Task.objects.create(name="no schedule", command=command)

        after = migrate([("eztaskmanager", "0014_task_schedule_enabled")])
        Task = after.get_model("eztaskmanager", "Task")
        assert dict(Task.objects.values_list("name", "schedule_enabled")) == {
            "on": True,
            "stopped": False,
            "stopped repetition": False,
            "no schedule": True,
        }
    finally:
        executor = MigrationExecutor(connection)
        migrate(executor.loader.graph.leaf_nodes("eztaskmanager"))


def test_a_pending_schedule_changed_without_the_launch_permission_is_held(
    staff_client, make_task, fake_queue
):
    task = every_minute(make_task)  # on, waiting for the sync (saved while Redis was down)
    editor = staff_client(*EDITOR)

    editor.post(change_url(task), form_data(editor, change_url(task), arguments="--shout"))

    task.refresh_from_db()
    assert (task.arguments, task.schedule_paused) == ("--shout", True)
    assert sync_schedules(fake_queue).applied == []
    assert fake_queue.scheduler.count() == 0
