"""A task names its queue: launches, schedules, firings, retries and stops use it (fakeredis)."""

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.utils import timezone
from rq import Queue

from eztaskmanager import cli, operations
from eztaskmanager.models import Task
from tests.conftest import fail_run
from tests.scheduler.test_sync import make_scheduler

pytestmark = pytest.mark.django_db


def queued(service, name: str) -> list:
    return Queue(name, connection=service.connection).jobs


def test_a_launch_goes_to_the_tasks_queue(make_task, fake_backend):
    task, plain = make_task(name="urgent", queue="high"), make_task(name="plain")
    operations.launch(task, fake_backend, defer=False)
    operations.launch(plain, fake_backend, defer=False)
    [job] = queued(fake_backend, "high")
    assert job.args == (task.pk,) and job.origin == "high"
    assert [j.args for j in queued(fake_backend, "default")] == [(plain.pk,)]


def test_a_firing_of_the_scheduler_goes_to_the_tasks_queue(make_task, fake_backend):
    start = timezone.now() - timedelta(seconds=30)
    task = make_task(scheduling=start, repetition_period="minute", repetition_rate=1, queue="low")
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    key = fake_backend.scheduler.scheduled_jobs_key
    fake_backend.connection.zadd(key, {task.scheduled_job_id: timezone.now().timestamp() - 1})
    make_scheduler(fake_backend).enqueue_jobs()  # one scheduler serves every queue
    [job] = queued(fake_backend, "low")
    assert job.args == (task.pk,) and queued(fake_backend, "default") == []


def test_a_retry_and_a_stop_use_the_tasks_queue(make_task, fake_backend):
    task = make_task("eztm_fail", queue="high", max_retries=1, retry_delays="0")
    fail_run(task, fake_backend, max_attempts=2)
    [retry] = queued(fake_backend, "high")
    assert retry.kwargs["attempt"] == 2
    operations.stop(task, "ops", fake_backend, defer=False)
    assert queued(fake_backend, "high") == []


def test_a_queue_must_be_configured(make_task, settings):
    task = make_task(queue="nowhere")
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "No queue 'nowhere' in RQ_QUEUES" in info.value.message_dict["queue"][0]
    warnings = [m for m in run_checks(databases=["default"]) if m.id == "eztaskmanager.W040"]
    assert len(warnings) == 1 and "'eztm_echo task'" in warnings[0].msg
    Task.objects.filter(pk=task.pk).update(queue="high")
    assert not [m for m in run_checks(databases=["default"]) if m.id == "eztaskmanager.W040"]


def test_the_cli_list_shows_each_tasks_queue(make_task):
    make_task(name="a", queue="quick")
    make_task(name="b")
    rows = {row["name"]: row["queue"] for row in cli.task_list()}
    assert rows == {"a": "quick", "b": "default"}  # blank: EZTASKMANAGER_QUEUE_NAME
    assert "QUEUE" in cli.format_task_list(cli.task_list()).splitlines()[0]
