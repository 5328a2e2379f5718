"""Durable launches, the sweep and bad-task isolation, on fakeredis (unit tier)."""

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.test import override_settings
from django.utils import timezone
from rq.job import Job as RQJob

from eztaskmanager import operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.backends.rq import MARKER_KEY
from eztaskmanager.core.schedules import CronError, validate_cron
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.records import taskstate
from eztaskmanager.scheduler.process import TaskScheduler
from eztaskmanager.scheduler.sweep import sweep
from eztaskmanager.scheduler.sync import sync_schedules
from eztaskmanager.services import run_management_command
from tests.factories import fail_run, running_report

pytestmark = pytest.mark.django_db

NEVER = "0 0 31 2 *"  # croniter accepts it, and finds no date


def queued_jobs(service) -> list[RQJob]:
    return service.queue.get_jobs()


def age(report: LaunchReport, seconds: float) -> None:
    LaunchReport.objects.filter(pk=report.pk).update(
        invocation_datetime=timezone.now() - timedelta(seconds=seconds)
    )


def unreachable_backend() -> RQBackend:
    return RQBackend(connection=redis.Redis(port=1, socket_connect_timeout=0.2))


def test_a_launch_is_recorded_queued_before_its_job_and_run_once(make_task, fake_backend):
    task = make_task("eztm_echo", "hello")
    outcome = operations.launch(task, fake_backend, defer=False)

    report = LaunchReport.objects.get(task=task)
    assert (report.is_queued, report.rq_job_id) == (True, outcome.job_id)
    [job] = queued_jobs(fake_backend)
    assert (job.id, job.kwargs) == (outcome.job_id, {"report_id": report.pk})
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_SPOOLED

    ran = run_management_command(task.pk, **job.kwargs)
    assert ran.pk == report.pk and ran.invocation_result == "warnings"  # eztm_echo warns
    assert ran.started_at is not None and not ran.is_queued
    # The same job a second time (sent again by the sweep, say) finds its launch claimed.
    assert run_management_command(task.pk, **job.kwargs) is None
    assert LaunchReport.objects.filter(task=task).count() == 1


def test_a_job_without_a_report_id_still_runs(make_task):
    task = make_task("eztm_echo", "old job")
    report = run_management_command(task.pk)
    assert report.invocation_result == "warnings" and report.started_at is not None


def test_a_failed_send_withdraws_the_launch_and_says_so(make_task):
    task = make_task("eztm_echo")
    with pytest.raises(Exception, match="not reachable"):
        operations.launch(task, unreachable_backend(), defer=False)
    assert not LaunchReport.objects.exists()
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_IDLE


@override_settings(EZTASKMANAGER_SWEEP_SECONDS=30)
def test_a_send_failing_after_the_commit_is_kept_and_the_sweep_sends_it(
    make_task, fake_backend, committed
):
    task = make_task("eztm_echo")
    with committed():
        operations.launch(task, unreachable_backend())
    [report] = LaunchReport.objects.all()
    assert report.is_queued  # accepted: kept, not lost
    assert queued_jobs(fake_backend) == []

    assert sweep(fake_backend).resent == []  # too young to be taken as lost
    age(report, 31)
    assert sweep(fake_backend).resent == [report.pk]
    [job] = queued_jobs(fake_backend)
    assert (job.id, job.kwargs) == (report.rq_job_id, {"report_id": report.pk})
    assert run_management_command(task.pk, **job.kwargs).invocation_result == "warnings"


def test_the_sweep_leaves_live_jobs_alone(make_task, fake_backend):
    task = make_task("eztm_echo")
    operations.launch(task, fake_backend, defer=False)  # on its queue
    retry_later = make_task("eztm_fail", name="retried", max_retries=1, retry_delays="600")
    fail_run(retry_later, fake_backend, max_attempts=2)  # waiting in the scheduled set
    LaunchReport.objects.update(invocation_datetime=timezone.now() - timedelta(seconds=30))

    assert sweep(fake_backend).resent == []
    assert len(queued_jobs(fake_backend)) == 1


def test_the_sweep_resends_a_job_lost_after_its_dequeue(make_task, fake_backend):
    task = make_task("eztm_echo")
    outcome = operations.launch(task, fake_backend, defer=False)
    # A worker popped the job and was killed before its work horse started it.
    fake_backend.queue.remove(outcome.job_id)
    report = LaunchReport.objects.get()
    age(report, 5)

    assert sweep(fake_backend).resent == [report.pk]
    assert [j.id for j in queued_jobs(fake_backend)] == [outcome.job_id]
    assert sweep(fake_backend).resent == []  # on its queue again


def test_a_deferred_launch_waits_in_the_schedule_and_a_lost_one_goes_back_there(
    make_task, fake_backend
):
    """A launch with ``run_after`` (a call's) is recorded at once and its job waits in the
    scheduled set; lost from Redis, the sweep puts it back there, not on the queue early."""
    from eztaskmanager.backends.rq import META_LAUNCH_OF, SCHEDULED_KEY

    task = make_task("eztm_echo")
    when = timezone.now() + timedelta(minutes=5)
    outcome = operations.launch(task, fake_backend, defer=False, run_after=when)
    report = LaunchReport.objects.get()
    assert (report.run_after, report.is_queued) == (when, True)
    connection = fake_backend.connection
    assert connection.zscore(SCHEDULED_KEY, outcome.job_id) == when.timestamp()
    assert queued_jobs(fake_backend) == []
    # At its time the scheduler sends it as it is: a recorded launch, no firing to record.
    assert RQJob.fetch(outcome.job_id, connection=connection).meta == {META_LAUNCH_OF: task.pk}

    connection.zrem(SCHEDULED_KEY, outcome.job_id)  # Redis lost it
    age(report, 5)
    assert sweep(fake_backend).resent == [report.pk]
    assert connection.zscore(SCHEDULED_KEY, outcome.job_id) == when.timestamp()
    assert queued_jobs(fake_backend) == []
    assert sweep(fake_backend).resent == []  # scheduled again: not lost


def test_a_started_job_whose_run_never_showed_up_is_lost(make_task, fake_backend):
    task = make_task("eztm_echo")
    outcome = operations.launch(task, fake_backend, defer=False)
    fake_backend.queue.remove(outcome.job_id)
    long_ago = "2020-01-01T00:00:00.000000Z"
    fake_backend.connection.hset(
        RQJob.key_for(outcome.job_id), mapping={"status": "started", "started_at": long_ago}
    )
    report = LaunchReport.objects.get()
    age(report, 5)
    assert sweep(fake_backend).resent == [report.pk]


def test_the_sweep_reconciles_tasks_left_spooled_or_started(make_task, fake_backend):
    stuck = make_task(name="stuck")
    busy = make_task(name="busy")
    Task.objects.filter(pk__in=[stuck.pk, busy.pk]).update(status=Task.STATUS_SPOOLED)
    running_report(busy)
    later = make_task(name="later", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(later, fake_backend, defer=False)
    Task.objects.filter(pk=later.pk).update(status=Task.STATUS_STARTED)

    assert sweep(fake_backend).tasks_reconciled == 2
    statuses = dict(Task.objects.values_list("name", "status"))
    assert statuses == {"stuck": "idle", "busy": "spooled", "later": "scheduled"}


def test_stop_closes_launches_still_queued(make_task, fake_backend):
    task = make_task("eztm_echo")
    operations.launch(task, fake_backend, defer=False)
    outcome = operations.stop(task, "admin", fake_backend, defer=False)
    report = LaunchReport.objects.get()
    assert (report.invocation_result, report.failure_reason) == ("failed", "stopped by admin")
    assert outcome.stopped_runs == 0  # no run was going
    assert run_management_command(task.pk, report_id=report.pk) is None  # never runs now


@override_settings(EZTASKMANAGER_N_REPORTS_INLINE=2)
def test_pruning_keeps_every_launch_without_a_result(make_task, fake_backend):
    task = make_task("eztm_echo")
    for _ in range(5):
        operations.launch(task, fake_backend, defer=False)
    job = queued_jobs(fake_backend)[-1]
    run_management_command(task.pk, **job.kwargs)  # prunes after its run
    assert LaunchReport.objects.filter(task=task, started_at__isnull=True).count() == 4


def test_a_cron_expression_that_never_fires_is_refused():
    with pytest.raises(CronError, match="never run"):
        validate_cron(NEVER)
    assert validate_cron("0 0 29 2 *") == "0 0 29 2 *"  # leap years do come


def scheduler_for(service, sync_interval=0):
    return TaskScheduler(
        queue=service.queue,
        connection=service.connection,
        interval=0.1,
        sync_interval=sync_interval,
    )


def never_firing_task(make_task, service):
    """A task saved with a cron expression that never fires (as before it was refused)."""
    task = make_task(name="never", cron_expression="0 3 * * *")
    operations.schedule(task, service, defer=False)
    Task.objects.filter(pk=task.pk).update(cron_expression=NEVER)
    task.refresh_from_db()
    return task


def test_a_bad_task_is_set_aside_and_the_others_fire(make_task, fake_backend):
    bad = never_firing_task(make_task, fake_backend)
    good = make_task(name="good", cron_expression="* * * * *")
    operations.schedule(good, fake_backend, defer=False)
    good.refresh_from_db()
    key = fake_backend.scheduler.scheduled_jobs_key
    fake_backend.connection.zadd(key, {bad.scheduled_job_id: 1, good.scheduled_job_id: 2})

    [job] = scheduler_for(fake_backend).enqueue_jobs()

    assert LaunchReport.objects.get(rq_job_id=job.id).task_id == good.pk
    bad.refresh_from_db()
    assert "CroniterBadDateError" in bad.schedule_error
    assert fake_backend.connection.zscore(key, bad.scheduled_job_id) is None
    assert fake_backend.connection.zscore(key, good.scheduled_job_id) > 2  # its next run


def test_sync_reports_a_bad_task_and_goes_on(make_task, fake_backend):
    bad = never_firing_task(make_task, fake_backend)
    good = make_task(name="good", cron_expression="*/5 * * * *")
    operations.schedule(good, fake_backend, defer=False)
    fake_backend.connection.flushall()

    result = sync_schedules(fake_backend)

    assert result.restored == [good.pk]
    assert [task_id for task_id, _ in result.failed] == [bad.pk]
    assert f"task {bad.pk} not scheduled: CroniterBadDateError" in str(result)
    assert "CroniterBadDateError" in Task.objects.get(pk=bad.pk).schedule_error
    Task.objects.filter(pk=bad.pk).update(cron_expression="0 4 * * *")
    sync_schedules(fake_backend)
    assert Task.objects.get(pk=bad.pk).schedule_error == ""  # fixed: the error goes


def test_a_wiped_redis_is_rebuilt_on_the_next_pass(make_task, fake_backend):
    task = make_task(name="hourly", cron_expression="0 * * * *")
    operations.schedule(task, fake_backend, defer=False)
    task.refresh_from_db()
    scheduler = scheduler_for(fake_backend, sync_interval=3600)
    scheduler.enqueue_jobs()  # the first pass syncs and leaves its marker
    assert fake_backend.connection.exists(MARKER_KEY)
    fake_backend.connection.flushall()

    scheduler.enqueue_jobs()  # no sync due for an hour, but the marker is gone

    key = fake_backend.scheduler.scheduled_jobs_key
    assert fake_backend.connection.zscore(key, task.scheduled_job_id) is not None
    assert fake_backend.connection.exists(MARKER_KEY)


def test_a_waiting_scheduler_wakes_when_a_schedule_is_written(make_task, real_redis):
    backend = RQBackend(connection=real_redis)
    scheduler = scheduler_for(backend)
    task = make_task(name="later", scheduling=timezone.now() + timedelta(hours=1))
    job = taskstate.scheduled_job(task, "eztm-1-later", task.scheduling)
    # The write as ``schedule`` makes it, from another process (no database in that thread).
    writer = threading.Timer(0.3, lambda: backend.schedule_at(job, task.scheduling))
    started = time.monotonic()
    writer.start()
    scheduler.wait_for_work(longest=10)
    writer.join()
    assert time.monotonic() - started < 5  # woken by the write, not by the 10 s limit


def test_a_waiting_scheduler_wakes_for_the_next_due_job(make_task, real_redis):
    service = RQBackend(connection=real_redis)
    task = make_task(name="soon", scheduling=timezone.now() + timedelta(seconds=0.5))
    operations.schedule(task, service, defer=False)
    scheduler = scheduler_for(service)
    real_redis.delete("eztaskmanager:scheduler-wake")  # the write's own wake-up, consumed
    started = time.monotonic()
    scheduler.wait_for_work(longest=10)
    waited = time.monotonic() - started
    assert 0.3 < waited < 5, waited  # until the job's due time, not the 10 s limit
