"""sync_schedules and the TaskScheduler on fakeredis (unit tier)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rq.job import Job

from eztaskmanager import operations
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.records import taskstate
from eztaskmanager.scheduler.process import TaskScheduler
from eztaskmanager.scheduler.sync import sync_schedules
from tests.factories import running_report

pytestmark = pytest.mark.django_db


def scores(service):
    key = service.scheduler.scheduled_jobs_key
    return {
        job_id.decode(): datetime.fromtimestamp(score, tz=UTC)
        for job_id, score in service.connection.zrange(key, 0, -1, withscores=True)
    }


def scheduled_tasks(make_task, service):
    soon = timezone.now() + timedelta(hours=1)
    tasks = [
        make_task(name="one-off", scheduling=soon),
        make_task(name="hourly", scheduling=soon, repetition_period="hour", repetition_rate=1),
        make_task(name="monthly", scheduling=soon, repetition_period="month", repetition_rate=1),
        make_task(name="cron", cron_expression="30 2 * * *"),
    ]
    for task in tasks:
        operations.schedule(task, service, defer=False)
        task.refresh_from_db()
    return tasks


def test_flushall_then_sync_restores_every_schedule(make_task, fake_backend):
    tasks = scheduled_tasks(make_task, fake_backend)
    before = scores(fake_backend)
    fake_backend.connection.flushall()
    Task.objects.update(cached_next_ride=None)

    result = sync_schedules(fake_backend)

    assert sorted(result.restored) == sorted(t.pk for t in tasks)
    after = scores(fake_backend)
    assert after.keys() == before.keys()
    for job_id, when in before.items():
        assert abs(after[job_id] - when) < timedelta(seconds=1)
    for task in Task.objects.all():
        assert task.status == Task.STATUS_SCHEDULED
        assert abs(task.cached_next_ride - after[task.scheduled_job_id]) < timedelta(seconds=1)
        job = Job.fetch(task.scheduled_job_id, connection=fake_backend.connection)
        assert list(job.args) == [task.pk]
    assert not sync_schedules(fake_backend).changed  # a second sync has nothing to do


def test_sync_removes_orphans_and_duplicates(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    backend = fake_backend
    stale, duplicate = "eztm-999-deadbeef", f"eztm-{task.pk}-dup"
    taskstate.write_schedule(task, backend, stale, timezone.now())
    taskstate.write_schedule(task, backend, duplicate, timezone.now())
    foreign = fake_backend.scheduler.enqueue_in(timedelta(hours=1), print)  # not ours

    result = sync_schedules(fake_backend)

    assert sorted(result.removed_jobs) == sorted([stale, duplicate])
    assert set(scores(fake_backend)) == {task.scheduled_job_id, foreign.id}


def test_sync_retimes_a_job_after_the_schedule_was_edited(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    new_time = (timezone.now() + timedelta(hours=5)).replace(microsecond=0)
    Task.objects.filter(pk=task.pk).update(scheduling=new_time)

    result = sync_schedules(fake_backend)

    task.refresh_from_db()
    assert result.retimed == [task.pk]
    assert scores(fake_backend)[task.scheduled_job_id] == new_time
    assert task.cached_next_ride == new_time


def test_sync_clears_a_one_off_that_already_ran(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(seconds=1))
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    running_report(task, heartbeat=False, started_at=task.scheduling + timedelta(seconds=1))
    fake_backend.connection.flushall()

    result = sync_schedules(fake_backend)

    task.refresh_from_db()
    assert result.unscheduled == [task.pk]
    assert (task.status, task.scheduled_job_id) == ("idle", None)


def test_sync_runs_a_missed_one_off_late_rather_than_never(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    Task.objects.filter(pk=task.pk).update(scheduling=timezone.now() - timedelta(minutes=5))
    fake_backend.connection.flushall()

    sync_schedules(fake_backend)

    task.refresh_from_db()
    assert scores(fake_backend)[task.scheduled_job_id] <= timezone.now()


def make_scheduler(service):
    return TaskScheduler(
        queue=service.queue, connection=service.connection, interval=0.1, sync_interval=0
    )


def test_two_schedulers_enqueue_a_firing_once(make_task, fake_backend):
    start = timezone.now() - timedelta(seconds=30)
    task = make_task(scheduling=start, repetition_period="minute", repetition_rate=1)
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    key = fake_backend.scheduler.scheduled_jobs_key
    fake_backend.connection.zadd(key, {task.scheduled_job_id: timezone.now().timestamp() - 1})

    first, second = make_scheduler(fake_backend), make_scheduler(fake_backend)
    assert len(first.enqueue_jobs()) == 1
    assert second.enqueue_jobs() == []
    assert fake_backend.queue.count == 1
    nxt = scores(fake_backend)[task.scheduled_job_id]
    assert nxt == task.schedule.next_run(after=timezone.now())
    task.refresh_from_db()
    assert task.cached_next_ride == nxt


def test_scheduler_claim_is_atomic_against_a_stale_read(make_task, fake_backend):
    task = make_task(
        scheduling=timezone.now() - timedelta(seconds=30),
        repetition_period="minute",
        repetition_rate=1,
    )
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    scheduler = make_scheduler(fake_backend)
    # Another scheduler already moved the job on: a claim with the old score is refused.
    assert not scheduler.backend.claim(task.scheduled_job_id, "12345.0", "99999.0")


def test_scheduler_drops_job_of_deleted_task(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    job_id = task.scheduled_job_id
    Task.objects.filter(pk=task.pk).update(scheduled_job_id=None)  # stopped behind our back
    key = fake_backend.scheduler.scheduled_jobs_key
    fake_backend.connection.zadd(key, {job_id: 1})
    assert make_scheduler(fake_backend).enqueue_jobs() == []
    assert fake_backend.queue.count == 0
    assert job_id not in scores(fake_backend)


def test_scheduler_one_off_fires_once_and_leaves_the_set(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    key = fake_backend.scheduler.scheduled_jobs_key
    fake_backend.connection.zadd(key, {task.scheduled_job_id: 1})
    [job] = make_scheduler(fake_backend).enqueue_jobs()
    # The firing runs as a job of its own, carrying the launch recorded for it.
    report = LaunchReport.objects.get(task=task)
    assert (job.id, report.is_queued) == (report.rq_job_id, True)
    assert job.kwargs == {"scheduled": True, "report_id": report.pk}
    assert scores(fake_backend) == {}
