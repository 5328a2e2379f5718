"""The 0.5.x queue-service facade over the operations, on fakeredis (unit tier), and the
immediate service."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rq.job import Job

from eztaskmanager.models import Task
from eztaskmanager.records import taskstate
from eztaskmanager.services.queues import (
    ImmediateTaskQueueService,
    RQTaskQueueService,
    TaskQueueException,
)
from tests.conftest import rq_service_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_rq_service(fake_redis):
    """The 0.5.x RQ queue service on fakeredis."""
    return rq_service_on(fake_redis)


def fetch(service, outcome):
    return Job.fetch(outcome.job_id, connection=service.connection)


def scheduled(service):
    return {job.id: when for job, when in service.scheduler.get_jobs(with_times=True)}


def test_launch_enqueues_a_job_for_the_runner(make_task, fake_rq_service):
    task = make_task()
    job = Job.fetch(fake_rq_service.launch(task).id, connection=fake_rq_service.connection)
    assert fake_rq_service.queue.job_ids == [job.id]
    assert job.func_name == "eztaskmanager.services.run_management_command"
    assert job.args == (task.pk,)
    assert job.meta["eztaskmanager_task_id"] == task.pk
    task.refresh_from_db()
    assert task.status == Task.STATUS_SPOOLED


def test_add_without_schedule_launches(make_task, fake_rq_service):
    fake_rq_service.add(make_task())
    assert fake_rq_service.queue.count == 1


def test_point_schedule(make_task, fake_rq_service):
    when = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    task = make_task(scheduling=when)
    job = fetch(fake_rq_service, fake_rq_service.add(task))
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED
    assert task.scheduled_job_id == job.id
    assert task.cached_next_ride == when
    assert scheduled(fake_rq_service)[job.id].replace(tzinfo=UTC) == when
    assert fake_rq_service.queue.count == 0
    assert job.kwargs == {"scheduled": True}


def test_scheduling_in_the_past_is_refused(make_task, fake_rq_service):
    task = make_task(scheduling=timezone.now() - timedelta(minutes=1))
    with pytest.raises(TaskQueueException, match="in the past"):
        fake_rq_service.add(task)
    assert fake_rq_service.scheduler.count() == 0


def test_periodic_with_past_start_starts_at_next_run(make_task, fake_rq_service):
    start = timezone.now() - timedelta(days=3, minutes=1)
    task = make_task(scheduling=start, repetition_period="day", repetition_rate=1)
    job = fetch(fake_rq_service, fake_rq_service.add(task))
    task.refresh_from_db()
    expected = start + timedelta(days=4)
    assert abs((task.cached_next_ride - expected).total_seconds()) < 1
    assert job.meta["interval"] == 86400


def test_rescheduling_replaces_the_previous_job(make_task, fake_rq_service):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    first = fake_rq_service.add(task)
    task.scheduling = timezone.now() + timedelta(hours=2)
    second = fake_rq_service.add(task)
    assert list(scheduled(fake_rq_service)) == [second.id]
    assert not Job.exists(first.id, connection=fake_rq_service.connection)


def test_remove_unschedules(make_task, fake_rq_service):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    job = fake_rq_service.add(task)
    fake_rq_service.remove(task)
    task.refresh_from_db()
    assert (task.status, task.scheduled_job_id, task.cached_next_ride) == ("idle", None, None)
    assert fake_rq_service.scheduler.count() == 0
    assert not Job.exists(job.id, connection=fake_rq_service.connection)


def test_deleting_a_task_unschedules_it(make_task, fake_rq_service, monkeypatch):
    from eztaskmanager import backends

    monkeypatch.setattr(backends, "get_backend", lambda: fake_rq_service.backend)
    tasks = [make_task(scheduling=timezone.now() + timedelta(hours=1)) for _ in range(3)]
    for task in tasks:
        fake_rq_service.add(task)
    tasks[0].delete()
    assert fake_rq_service.scheduler.count() == 2
    Task.objects.all().delete()  # bulk delete too
    assert fake_rq_service.scheduler.count() == 0


def test_after_run_retimes_periodic_job_exactly(make_task, fake_rq_service):
    start = datetime(2031, 1, 31, 8, tzinfo=UTC)
    task = make_task(scheduling=start, repetition_period="month", repetition_rate=1)
    job = fake_rq_service.add(task)
    # what rq-scheduler does when it enqueues an interval job: now + interval (30 days)
    fake_rq_service.connection.zadd(fake_rq_service.scheduler.scheduled_jobs_key, {job.id: 0})
    state = taskstate.after_run(task, True, fake_rq_service.backend)
    taskstate.run_ended(task, None, True, state)
    taskstate.fix_due_time(task, state, fake_rq_service.backend)
    assert task.status == Task.STATUS_SCHEDULED
    assert task.cached_next_ride > timezone.now()
    assert task.cached_next_ride == scheduled(fake_rq_service)[job.id].replace(tzinfo=UTC)
    local = timezone.localtime(task.cached_next_ride)
    assert local.hour == timezone.localtime(start).hour


def test_after_run_of_one_off_schedule_clears_it(make_task, fake_rq_service):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    fake_rq_service.add(task)
    fake_rq_service.scheduler.cancel(task.scheduled_job_id)  # rq-scheduler moved it to the queue
    state = taskstate.after_run(task, True, fake_rq_service.backend)
    taskstate.run_ended(task, None, True, state)
    assert (task.status, task.scheduled_job_id, task.cached_next_ride) == ("idle", None, None)


def test_redis_down_is_a_readable_error(make_task):
    import redis

    service = rq_service_on(redis.Redis(port=1, socket_connect_timeout=0.5))
    with pytest.raises(TaskQueueException, match="not reachable"):
        service.launch(make_task())


@override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate")
def test_immediate_service_runs_at_once(make_task):
    report = ImmediateTaskQueueService().add(make_task("eztm_lines", "2, --level warning")).report
    assert report.invocation_result == "warnings"


def test_immediate_service_cannot_schedule(make_task):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    with pytest.raises(TaskQueueException, match="cannot schedule"):
        ImmediateTaskQueueService().add(task)


def test_job_ids_name_their_task(make_task):
    task = make_task()
    assert RQTaskQueueService().backend.new_job_id(task.pk).startswith(f"eztm-{task.pk}-")


# -- which service the settings name (moved from tests/test_conf.py) ----------------------------


def test_queue_service_follows_setting():
    from eztaskmanager.services.queues import (
        ImmediateTaskQueueService,
        RQTaskQueueService,
        TaskQueueException,
        get_task_service,
    )

    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate"):
        assert isinstance(get_task_service(), ImmediateTaskQueueService)
    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="RQ"):
        assert isinstance(get_task_service(), RQTaskQueueService)
    with override_settings(
        EZTASKMANAGER_QUEUE_SERVICE_TYPE="eztaskmanager.services.queues.ImmediateTaskQueueService"
    ):
        assert isinstance(get_task_service(), ImmediateTaskQueueService)
    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="no.such.Service"):
        with pytest.raises(TaskQueueException, match="Unknown"):
            get_task_service()


def test_queue_name_setting():
    from eztaskmanager.services.queues import RQTaskQueueService

    with override_settings(EZTASKMANAGER_QUEUE_NAME="low"):
        assert RQTaskQueueService().queue_name == "low"
