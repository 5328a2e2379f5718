"""A launch runs what was authorised; who may decide what a task runs is data on the task.

Unit tier: fakeredis for the queue, the job run in this process as a worker's work horse runs
it (``run_management_command`` with the job's keyword arguments).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone, translation

from eztaskmanager import operations
from eztaskmanager.backends import get_backend
from eztaskmanager.core import permissions
from eztaskmanager.models import AppCommand, FollowUp, InternalActor, LaunchReport, Task
from eztaskmanager.operations import audit, authorisation, followups
from eztaskmanager.records import launches
from eztaskmanager.scheduler.process import record_firing
from eztaskmanager.scheduler.sweep import sweep
from eztaskmanager.services import run_management_command
from tests.admin.test_admin import EDITOR, LAUNCHER, change_url, fake_queue, form_data, staff_client
from tests.factories import make_report, make_staff, make_user, queued_report, running_report

pytestmark = pytest.mark.django_db
__all__ = ["fake_queue", "staff_client"]  # fixtures used here


def messages_of(report: LaunchReport) -> list[str]:
    return list(report.logs.order_by("lineno").values_list("message", flat=True))


def only_job(service):
    [job] = service.queue.get_jobs()
    return job


def edit(task: Task, **values) -> None:
    """Change ``task`` in the database, as another process would."""
    Task.objects.filter(pk=task.pk).update(**values)


def user_with(*codenames: str, name: str = "someone") -> User:
    user = make_staff(*codenames, username=name)
    return User.objects.get(pk=user.pk)  # no cached permissions


# -- 1. a launch runs what was authorised -------------------------------------------------------


def test_a_launch_records_what_it_runs_and_an_edit_before_the_worker_changes_nothing(
    make_task, make_command, fake_backend
):
    task = make_task("eztm_echo", "launched, --count 2", name="t")
    operations.launch(task, fake_backend, defer=False)
    report = LaunchReport.objects.get(task=task)
    assert (report.command_name, report.run_arguments, report.legacy_arguments) == (
        "eztm_echo",
        "launched, --count 2",
        False,
    )
    assert report.command_id == task.command_id and report.arguments is None
    # Before a worker takes it, the task is changed: its arguments, then its command.
    edit(task, arguments="edited, --count 9")
    edit(task, command=make_command("eztm_lines"), arguments="5")

    ran = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert ran.pk == report.pk and ran.invocation_result == "warnings"
    assert "items=['launched']" in messages_of(ran) and "count=2 shout=False" in messages_of(ran)
    assert not any(m.startswith("line ") for m in messages_of(ran))
    # The next launch runs the task as it is now.
    operations.launch(Task.objects.get(pk=task.pk), fake_backend, defer=False)
    later = LaunchReport.objects.filter(task=task).latest("pk")
    assert (later.command_name, later.run_arguments) == ("eztm_lines", "5")


def test_the_argument_rule_is_recorded_too(make_task, fake_backend):
    task = make_task("eztm_echo", "--title hello world", name="t", legacy_arguments=True)
    operations.launch(task, fake_backend, defer=False)
    edit(task, legacy_arguments=False, arguments="--title=other")
    ran = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert ran.legacy_arguments is True
    assert "title='hello world'" in messages_of(ran)


def test_one_off_arguments_are_recorded_as_what_runs(make_task, fake_backend):
    task = make_task("eztm_echo", "own", name="t")
    operations.launch(task, fake_backend, defer=False, arguments="once")
    edit(task, arguments="edited")
    ran = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert (ran.arguments, ran.run_arguments) == ("once", "once")
    assert "items=['once']" in messages_of(ran)


def test_a_retry_runs_what_its_first_attempt_was_launched_with(
    make_task, make_command, fake_backend
):
    task = make_task("eztm_fail", "--how commanderror", name="t", max_retries=1, retry_delays="0")
    operations.launch(task, fake_backend, defer=False)
    first = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert first.invocation_result == "failed" and first.failure_reason.endswith("bad input given")
    retry = LaunchReport.objects.filter(task=task).latest("pk")
    assert retry.is_queued and retry.attempt == 2
    assert (retry.command_name, retry.run_arguments) == ("eztm_fail", "--how commanderror")
    # The editor changes the command and raises the retries while the retry waits.
    edit(task, command=make_command("eztm_echo"), arguments="edited", max_retries=20)

    ran = run_management_command(task.pk, **launches.job_of(retry).kwargs)
    assert ran.pk == retry.pk and ran.invocation_result == "failed"
    assert "about to fail" in messages_of(ran) and "items=['edited']" not in messages_of(ran)
    assert ran.max_attempts == 2  # the chain keeps the attempts it was launched with
    assert LaunchReport.objects.filter(task=task).count() == 2  # no third attempt


def test_a_retry_waits_and_goes_where_its_launch_said(make_task, fake_backend):
    task = make_task("eztm_fail", name="t", max_retries=2, retry_delays="0", queue="low")
    operations.launch(task, fake_backend, defer=False)
    report = LaunchReport.objects.get(task=task)
    assert (report.retry_delays, report.queue) == ("0", "low")
    # While it waits, the delays become a week and the queue another one.
    edit(task, retry_delays="604800", retry_exponential=True, queue="high")
    job = fake_backend.queue_for("low").get_jobs()[0]
    ran = run_management_command(task.pk, **job.kwargs)
    assert ran.invocation_result == "failed" and ran.retry_planned
    retry = LaunchReport.objects.filter(task=task).latest("pk")
    assert retry.retry_delays == "0" and retry.queue == "low"
    assert report.retry_delay(1, task) == 0 and Task.objects.get(pk=task.pk).retry_delay(1) > 0
    assert launches.job_of(retry).queue == "low"  # the sweep sends it where it was launched
    assert any("planned in 0 s" in m for m in messages_of(ran))


def test_a_scheduled_firing_records_the_task_as_it_was_at_the_firing(
    make_task, make_command, fake_backend
):
    task = make_task("eztm_echo", "at the firing", name="t", cron_expression="0 3 * * *")
    job = record_firing(task.pk, fake_backend)
    fake_backend.enqueue(job)
    edit(task, command=make_command("eztm_lines"), arguments="3")
    ran = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert ran.command_name == "eztm_echo"
    assert "items=['at', 'the', 'firing']" in messages_of(ran)


def test_a_firing_of_a_task_held_before_it_runs_nothing(make_task, fake_backend):
    task = make_task("eztm_echo", "edited", name="t", cron_expression="0 3 * * *")
    authorisation.hold(task, make_user("editor"))
    job = record_firing(task.pk, fake_backend)
    ran = run_management_command(task.pk, **job.kwargs)
    assert ran.invocation_result == "failed" and ran.failure_reason.startswith("held:")
    assert not any(m.startswith("items=") for m in messages_of(ran))


def test_the_policy_checks_the_recorded_command(make_task, make_command, fake_backend):
    task = make_task("eztm_echo", "x", name="t")
    operations.launch(task, fake_backend, defer=False)
    AppCommand.objects.filter(name="eztm_echo").update(active=False)  # switched off meanwhile
    edit(task, command=make_command("eztm_lines"), arguments="1")
    ran = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert (ran.invocation_result, ran.failure_reason) == (
        "failed",
        "command not allowed: eztm_echo",
    )
    assert "'eztm_echo' is inactive" in messages_of(ran)[-1]


def test_a_report_from_before_the_recording_runs_the_task_as_it_is(make_task):
    task = make_task("eztm_echo", "the task", name="t")
    old = queued_report(task, record=False, rq_job_id="eztm-old")  # queued by 0.6
    assert not old.is_recorded and old.ran_arguments == "the task"
    ran = run_management_command(task.pk, report_id=old.pk)
    assert "items=['the', 'task']" in messages_of(ran)
    assert ran.command_name == ""  # what it ran is the task's, as before


def test_the_report_page_and_log_viewer_show_what_the_launch_recorded(
    admin_client, make_task, make_command, fake_backend
):
    task = make_task("eztm_echo", "recorded", name="t")
    operations.launch(task, fake_backend, defer=False)
    report = LaunchReport.objects.get(task=task)
    edit(task, command=make_command("eztm_lines"), arguments="7")
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[report.pk]))
    body = page.content.decode()
    assert "<code>eztm_echo</code>" in body and "<code>recorded</code>" in body
    viewer = admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk])).content
    assert "eztm_echo recorded</code>" in viewer.decode()
    state = admin_client.get(
        reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]), {"after": 0}
    ).json()["report"]
    assert (state["command"], state["arguments"]) == ("eztm_echo", "recorded")


# -- 2. authorisation as data -------------------------------------------------------------------


def scheduled_task(make_task, **fields):
    return make_task(
        "eztm_echo",
        "safe",
        name=fields.pop("name", "scheduled"),
        status=Task.STATUS_SCHEDULED,
        scheduled_job_id="eztm-x",
        scheduling=timezone.now() + timedelta(hours=1),
        **fields,
    )


RUN_FIELD_CHANGES = {
    "command": lambda make_command: str(make_command("eztm_lines").pk),
    "arguments": lambda make_command: "other",
    # The 0.5.x box shows only on tasks that have it ticked: the editor unticks it.
    "legacy_arguments": lambda make_command: None,
    "queue": lambda make_command: "low",
    "max_retries": lambda make_command: "3",
    "retry_delays": lambda make_command: "604800",
    "retry_exponential": lambda make_command: "on",
}


@pytest.mark.parametrize("field", sorted(RUN_FIELD_CHANGES))
def test_an_editor_changing_any_run_field_holds_the_task(
    field, staff_client, make_task, make_command, settings
):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    task = scheduled_task(make_task, legacy_arguments=field == "legacy_arguments")
    editor = staff_client(*EDITOR)
    value = RUN_FIELD_CHANGES[field](make_command)
    data = form_data(editor, change_url(task), **({} if value is None else {field: value}))
    if value is None:
        data.pop(field)  # an unticked box is not sent
    if field == "command":
        data["arguments"] = "1"  # eztm_lines takes a number
    response = editor.post(change_url(task), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    task.refresh_from_db()
    assert authorisation.is_held(task) and task.held_by == "staff0"
    assert task.scheduled_job_id is None and task.status == Task.STATUS_IDLE
    assert permissions.is_held(task)


def test_the_hold_holds_in_italian_and_without_the_history(
    staff_client, make_task, settings, immediate_backend
):
    settings.LANGUAGE_CODE = "it"
    first = make_task("eztm_lines", "1", name="first")
    then = scheduled_task(make_task, name="then")
    FollowUp.objects.create(task=first, then=then, results="ok")
    editor = staff_client(*EDITOR)
    with translation.override("it"):
        data = form_data(editor, change_url(then), arguments="changed by an editor")
        assert editor.post(change_url(then), data, HTTP_ACCEPT_LANGUAGE="it").status_code == 302
    then.refresh_from_db()
    assert permissions.is_held(then)

    LogEntry.objects.all().delete()  # what a retention job does
    then.refresh_from_db()
    assert permissions.is_held(then)
    assert followups.unapproved_change(then) == "staff0"
    with translation.override("it"):
        report = operations.launch(first).report
    assert not LaunchReport.objects.filter(task=then).exists()
    assert any("not launched" in m for m in messages_of(report))


@pytest.fixture
def immediate_backend(settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"


def test_an_unrelated_edit_by_a_launcher_does_not_approve(
    staff_client, make_task, immediate_backend
):
    task = make_task("eztm_echo", "safe", name="t")
    editor, launcher = staff_client(*EDITOR), staff_client(*LAUNCHER)
    data = form_data(editor, change_url(task), arguments="by the editor")
    assert editor.post(change_url(task), data).status_code == 302
    data = form_data(launcher, change_url(task), note="a note")
    response = launcher.post(change_url(task), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    task.refresh_from_db()
    assert authorisation.is_held(task) and task.approved_by is None
    # Neither a run once with other arguments nor a stop approves either.
    launcher_user = User.objects.get(username="staff1")
    operations.launch(task, user=launcher_user, arguments="other")
    operations.stop(task, "staff1", user=launcher_user)
    task.refresh_from_db()
    assert authorisation.is_held(task)


def test_saving_unchanged_or_launching_by_a_launcher_approves(
    staff_client, make_task, immediate_backend
):
    task = make_task("eztm_echo", "safe", name="t")
    editor, launcher = staff_client(*EDITOR), staff_client(*LAUNCHER)
    data = form_data(editor, change_url(task), arguments="by the editor")
    assert editor.post(change_url(task), data).status_code == 302
    # The editor saving it again unchanged approves nothing.
    assert editor.post(change_url(task), form_data(editor, change_url(task))).status_code == 302
    task.refresh_from_db()
    assert authorisation.is_held(task)

    assert launcher.post(change_url(task), form_data(launcher, change_url(task))).status_code == 302
    task.refresh_from_db()
    assert not authorisation.is_held(task)
    assert task.approved_by.username == "staff1" and task.approved_at is not None

    data = form_data(editor, change_url(task), arguments="again")
    assert editor.post(change_url(task), data).status_code == 302
    task.refresh_from_db()
    operations.launch(task, user=User.objects.get(username="staff1"))
    task.refresh_from_db()
    assert not authorisation.is_held(task)


def test_a_held_task_is_not_scheduled_until_approved(make_task, immediate_backend, settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "tests.admin.test_admin.FakeRedisBackend"
    import fakeredis

    from tests.admin.test_admin import FakeRedisBackend

    FakeRedisBackend.redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    task = make_task("eztm_echo", "x", name="t", scheduling=timezone.now() + timedelta(hours=1))
    authorisation.hold(task, make_user("editor"))
    with pytest.raises(operations.NotAllowed, match="editor"):
        operations.apply_schedule(task, defer=False)
    authorisation.approve(task, user_with("launch_task", name="boss"))
    assert operations.apply_schedule(task, defer=False).state == operations.SCHEDULED


def test_a_task_created_by_an_editor_is_held(staff_client, make_command, immediate_backend):
    editor = staff_client(*EDITOR)
    command = make_command("eztm_echo")
    url = reverse("admin:eztaskmanager_task_add")
    data = form_data(editor, url, name="new", command=str(command.pk), arguments="a")
    data.update({"follow_ups-TOTAL_FORMS": "0", "follow_ups-INITIAL_FORMS": "0"})
    response = editor.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert authorisation.is_held(Task.objects.get(name="new"))


# -- internal actors ----------------------------------------------------------------------------


def test_a_user_named_like_an_actor_is_not_trusted(make_task, immediate_backend):
    forged = make_staff(username="eztaskmanager-follow-up")
    forged.set_unusable_password()
    forged.is_active = False
    forged.save()
    assert not followups.trusted(forged) and not audit.is_internal(forged)
    assert not authorisation.may_approve(forged)
    # The follow-up actor is another user, marked by a row that only code creates.
    actor = audit.actor(followups.ACTOR)
    assert actor.pk != forged.pk and actor.username == "eztaskmanager-follow-up-2"
    assert audit.is_internal(actor) and followups.trusted(actor)
    assert audit.actor(followups.ACTOR).pk == actor.pk
    assert InternalActor.objects.get(name=followups.ACTOR).user_id == actor.pk
    # A change of what a task runs by the forged user holds it.
    task = make_task("eztm_echo", name="t")
    assert operations.hold_if_unauthorised(task, forged, ["arguments"])
    assert followups.unapproved_change(task) == "eztaskmanager-follow-up"


def test_a_follow_up_launch_approves_nothing(make_task, immediate_backend):
    first = make_task("eztm_lines", "1", name="first")
    then = make_task("eztm_echo", "x", name="then")
    FollowUp.objects.create(task=first, then=then, results="ok")
    authorisation.hold(then, make_user("editor"))
    operations.launch(first)
    operations.launch(first)
    then.refresh_from_db()
    assert authorisation.is_held(then) and not LaunchReport.objects.filter(task=then).exists()


def test_queued_launches_keep_their_values_after_a_retry_record(make_task, fake_backend):
    """``launches.prepare`` without a recorded report to retry records the task now."""
    task = make_task("eztm_echo", "now", name="t")
    old = make_report(task, invocation_result="failed")
    _job, retry = launches.prepare(task, "eztm-r", attempt=2, retry_of=old)
    assert (retry.command_name, retry.run_arguments) == ("eztm_echo", "now")


# -- taskmanager load ---------------------------------------------------------------------------


def test_load_refuses_a_switched_off_command_unless_told_to_switch_it_on(tmp_path, make_command):
    from django.core.management import CommandError, call_command

    from eztaskmanager.cli import tasks_as_code

    make_command("eztm_echo")
    AppCommand.objects.filter(name="eztm_echo").update(active=False)  # a superuser's decision
    declared = [{"name": "echo", "command": "eztm_echo", "arguments": "a"}]
    with pytest.raises(tasks_as_code.DeclarationError, match="switched off"):
        tasks_as_code.load_tasks(declared)
    assert not AppCommand.objects.get(name="eztm_echo").active
    assert not Task.objects.exists()

    path = tmp_path / "tasks.json"
    path.write_text('[{"name": "echo", "command": "eztm_echo", "arguments": "a"}]')
    with pytest.raises(CommandError, match="--reactivate"):
        call_command("taskmanager", "load", str(path))
    call_command("taskmanager", "load", str(path), "--reactivate")
    command = AppCommand.objects.get(name="eztm_echo")
    assert command.active
    [entry] = audit.history(command)
    assert entry.user == audit.actor(audit.CLI) and "--reactivate" in entry.change_message


def test_load_records_what_it_changes_and_approves_it(make_task):
    from eztaskmanager.cli import tasks_as_code

    task = make_task("eztm_echo", "old", name="echo")
    authorisation.hold(task, make_user("editor"))
    result = tasks_as_code.load_tasks(
        [{"name": "echo", "command": "eztm_echo", "arguments": "new", "note": "n"}]
    )
    assert result.changes[0].action == "updated"
    [entry] = audit.history(task)
    assert entry.user == audit.actor(audit.CLI)
    assert "Arguments changed from 'old' to 'new'" in entry.change_message
    assert "note" in entry.change_message
    task.refresh_from_db()
    assert not authorisation.is_held(task) and task.approved_by == audit.actor(audit.CLI)
    tasks_as_code.load_tasks([{"name": "fresh", "command": "eztm_echo"}])
    [created] = audit.history(Task.objects.get(name="fresh"))
    assert created.is_addition()


# -- the data migration -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_derives_the_hold_from_the_history():
    from tests.test_migrations import head, migrate

    before = migrate([("eztaskmanager", "0013_task_queue")])
    try:
        AppCommand = before.get_model("eztaskmanager", "AppCommand")
        OldTask = before.get_model("eztaskmanager", "Task")
        from django.contrib.contenttypes.models import ContentType

        command = AppCommand.objects.create(name="eztm_echo", app_name="tests.testapp")
        later = timezone.now() + timedelta(days=1)
        held = OldTask.objects.create(name="held", command=command, scheduling=later)
        changed = OldTask.objects.create(name="changed", command=command)
        fine = OldTask.objects.create(name="fine", command=command, scheduling=later)
        editor = User.objects.create(username="editor", is_staff=True)
        actor = User.objects.create(username="eztaskmanager-cli", is_active=False, password="!x")
        content_type, _ = ContentType.objects.get_or_create(app_label="eztaskmanager", model="task")

        def entry(task, message, user=editor):
            LogEntry.objects.create(
                user_id=user.pk,
                content_type_id=content_type.pk,
                object_id=str(task.pk),
                object_repr=task.name,
                action_flag=2,
                change_message=message,
            )

        entry(held, "Scheduled; next run at ...", actor)
        entry(held, "Unscheduled: command or arguments changed without the launch permission.")
        entry(changed, "Arguments changed from 'a' to 'b'.")
        entry(fine, "Arguments changed from 'a' to 'b'.", actor)

        after = migrate([("eztaskmanager", "0015_launch_authorisation")])
        Task = after.get_model("eztaskmanager", "Task")
        assert Task.objects.get(name="held").held_by == "editor"
        assert Task.objects.get(name="changed").held_since is not None
        assert Task.objects.get(name="fine").held_since is None
        Actor = after.get_model("eztaskmanager", "InternalActor")
        assert Actor.objects.get(name="cli").user_id == actor.pk
    finally:
        migrate(head())


# -- 3. the retry decision is recorded, and follow-ups read it ----------------------------------


@pytest.mark.parametrize("retries", [0, 1])
def test_a_stopped_run_fires_its_failed_follow_ups_with_or_without_retries(
    retries, make_task, immediate_backend
):
    task = make_task("eztm_echo", name="stopped", max_retries=retries)
    cleanup = make_task("eztm_echo", "cleanup", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="failed")
    running = running_report(task, max_attempts=retries + 1, worker="elsewhere")
    operations.stop(task, "ops")
    running.refresh_from_db()
    assert running.invocation_result == "failed" and running.retry_planned is False
    [run] = LaunchReport.objects.filter(task=cleanup)
    assert run.triggered_by_id == running.pk
    assert LaunchReport.objects.filter(task=task).count() == 1  # and no retry


def test_a_failed_run_records_its_planned_retry(make_task, fake_backend):
    task = make_task("eztm_fail", name="t", max_retries=1, retry_delays="600")
    operations.launch(task, fake_backend, defer=False)
    first = run_management_command(task.pk, **only_job(fake_backend).kwargs)
    assert first.retry_planned is True and not followups.fires(first)
    retry = LaunchReport.objects.filter(task=task).latest("pk")
    last = run_management_command(task.pk, **launches.job_of(retry).kwargs)
    assert last.retry_planned is False and followups.fires(last)


def test_a_stop_in_the_admin_leaves_the_failed_follow_ups_to_the_scheduler(
    staff_client, make_task, fake_queue, committed, mailoutbox, settings
):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": {
            "class": "eztaskmanager.notifications.EmailNotificationHandler",
            "level": "failed",
            "from_email": "eztm@example.com",
            "recipients": ["ops@example.com"],
        }
    }
    task = make_task("eztm_echo", name="stopped", max_retries=1)
    cleanup = make_task("eztm_echo", "cleanup", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="failed")
    running = running_report(task, max_attempts=2, worker="elsewhere")
    launcher = staff_client(*LAUNCHER)
    with committed():
        response = launcher.post(f"/admin/eztaskmanager/task/{task.pk}/stop/")
    assert response.status_code == 302
    # The request ended the run (one commit) and launched nothing, sent nothing.
    running.refresh_from_db()
    assert (running.invocation_result, running.ending) == ("failed", "stopped")
    assert (running.retry_planned, running.reactions_pending) == (False, True)
    assert not LaunchReport.objects.filter(task=cleanup).exists()
    assert fake_queue.queue.jobs == [] and mailoutbox == []

    # The scheduler's next pass reacts: the notification, then the follow-up.
    backend = get_backend()
    with committed():
        assert sweep(backend).reacted == [running.pk]
    [queued] = LaunchReport.objects.filter(task=cleanup)
    assert queued.is_queued and queued.triggered_by_id == running.pk
    [job] = fake_queue.queue.jobs  # sent when the follow-ups' transaction committed
    assert job.kwargs == {"report_id": queued.pk, "triggered_by": running.pk}
    assert len(mailoutbox) == 1 and "stopped" in mailoutbox[0].subject
    assert LaunchReport.objects.filter(task=task).count() == 1  # the stopped run is not retried
    assert sweep(backend).reacted == []  # once
