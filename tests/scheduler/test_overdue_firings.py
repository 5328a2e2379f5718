"""No silent misses: a firing the scheduler cannot claim is logged, alerted once, shown in the
status, the metrics and the dashboard, and cleared with one all-clear when it fires.

The claim is broken the way a formatting mismatch breaks it: the scheduler's backend claims
with a due time that is not the stored one, through the real claim script on the real Redis.
Alerts go to Django's locmem mail backend (pytest-django's ``mailoutbox``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rq import Queue

from eztaskmanager import operations
from eztaskmanager.backends.rq import OVERDUE_KEY, SCHEDULED_KEY, WAKE_KEY, RQBackend
from eztaskmanager.cli import format_status
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.scheduler.process import LOST_CLAIMS, TaskScheduler
from eztaskmanager.web.status import collect_status
from tests.notifications.test_notifications import EMAIL

pytestmark = pytest.mark.django_db


class MisreadingBackend(RQBackend):
    """Claims with a due time a millisecond off the one read: every claim loses."""

    def claim(self, job_id, read_score, next_score):
        return super().claim(job_id, float(read_score) + 0.001, next_score)


@pytest.fixture
def mail_alerts(settings):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": {"class": EMAIL, "from_email": None, "recipients": ["ops@example.com"]}
        | {"level": "failed"},
    }
    settings.EZTASKMANAGER_OVERDUE_FIRING_SECONDS = 10
    settings.EZTASKMANAGER_PROMETHEUS_ENABLED = True


@pytest.fixture
def due_task(make_task, real_redis):
    """A task firing every minute, its job due 30.123 s ago in the real Redis."""
    task = make_task(
        name="nightly export",
        scheduling=timezone.now() - timedelta(hours=1),
        repetition_period="minute",
        repetition_rate=1,
    )
    operations.schedule(task, RQBackend(connection=real_redis), defer=False)
    task.refresh_from_db()
    real_redis.zadd(SCHEDULED_KEY, {task.scheduled_job_id: time.time() - 30.123})
    return task


def scheduler_on(connection, backend_class=RQBackend) -> TaskScheduler:
    queue = Queue("default", connection=connection)
    scheduler = TaskScheduler(queue=queue, connection=connection, interval=0.1, sync_interval=0)
    scheduler.backend = backend_class(scheduler.queue_name, connection=connection)
    scheduler._overdue.backend = scheduler.backend
    return scheduler


def errors_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]


def test_an_unclaimable_firing_is_logged_alerted_shown_and_cleared(
    due_task, real_redis, mail_alerts, mailoutbox, admin_client, caplog
):
    broken = scheduler_on(real_redis, MisreadingBackend)
    with caplog.at_level(logging.INFO):
        assert broken.enqueue_jobs() == []
        assert broken.enqueue_jobs() == []  # still lost: no second alert
    # The ERROR line names the task, by id and name.
    [error] = errors_of(caplog)
    assert f"task {due_task.pk} (nightly export)" in error and "overdue" in error
    # One alert to the handlers.
    [mail] = mailoutbox
    assert "nightly export" in mail.subject and "ops@example.com" in mail.to
    assert f"id {due_task.pk}" in mail.body
    # The status JSON lists it, with how late it is.
    data = json.loads(admin_client.get(reverse("eztaskmanager:status_json")).content)
    assert data["overdue_firings_total"] == 1
    [firing] = data["overdue_firings"]
    assert (firing["task_id"], firing["task"]) == (due_task.pk, "nightly export")
    assert firing["job_id"] == due_task.scheduled_job_id and firing["late_seconds"] >= 30
    # The metrics too.
    text = admin_client.get(reverse("eztaskmanager:metrics")).content.decode()
    assert "eztaskmanager_overdue_firings 1" in text
    late = [line for line in text.splitlines() if line.startswith("eztaskmanager_overdue_firing_")]
    assert len(late) == 1 and f'task_id="{due_task.pk}"' in late[0]
    assert 'task="nightly export"' in late[0]
    # And `taskmanager status`.
    text = format_status(collect_status(connection=real_redis))
    assert "OVERDUE FIRINGS (due, not sent): 1" in text and "nightly export" in text
    # And the dashboard.
    page = admin_client.get(reverse("eztaskmanager:dashboard")).content.decode()
    overdue_box = page.split('id="eztm-overdue-firings"')[1].split("</table>")[0]
    assert "nightly export" in overdue_box

    # A working claim fires it: it runs once, and the handlers hear the all-clear once.
    fixed = scheduler_on(real_redis)
    [job] = fixed.enqueue_jobs()
    assert job.id == LaunchReport.objects.get(task=due_task).rq_job_id
    assert fixed.enqueue_jobs() == []
    [cleared] = mailoutbox[1:]
    assert cleared.subject.endswith("Firing sent: “nightly export” started late")
    assert real_redis.hlen(OVERDUE_KEY) == 0
    data = json.loads(admin_client.get(reverse("eztaskmanager:status_json")).content)
    assert (data["overdue_firings_total"], data["overdue_firings"]) == (0, [])
    text = admin_client.get(reverse("eztaskmanager:metrics")).content.decode()
    assert "eztaskmanager_overdue_firings 0" in text


def test_claims_lost_again_and_again_are_reported_before_the_overdue_delay(
    make_task, real_redis, mail_alerts, mailoutbox, settings, caplog
):
    settings.EZTASKMANAGER_OVERDUE_FIRING_SECONDS = 3600  # the delay alone would wait an hour
    task = make_task(
        name="every minute",
        scheduling=timezone.now() - timedelta(hours=1),
        repetition_period="minute",
        repetition_rate=1,
    )
    operations.schedule(task, RQBackend(connection=real_redis), defer=False)
    task.refresh_from_db()
    real_redis.zadd(SCHEDULED_KEY, {task.scheduled_job_id: time.time() - 0.5})
    broken = scheduler_on(real_redis, MisreadingBackend)
    with caplog.at_level(logging.INFO):
        for _ in range(LOST_CLAIMS - 1):
            broken.enqueue_jobs()
        assert errors_of(caplog) == [] and mailoutbox == []
        broken.enqueue_jobs()
        for _ in range(LOST_CLAIMS):
            broken.enqueue_jobs()  # reported once
    [error] = errors_of(caplog)
    assert f"task {task.pk} (every minute)" in error and "claims lost in a row" in error
    assert len(mailoutbox) == 1


def test_two_schedulers_alert_once(due_task, real_redis, mail_alerts, mailoutbox):
    first = scheduler_on(real_redis, MisreadingBackend)
    second = scheduler_on(real_redis, MisreadingBackend)
    first.enqueue_jobs()
    second.enqueue_jobs()
    first.enqueue_jobs()
    assert len(mailoutbox) == 1


def test_a_stopped_task_clears_its_overdue_firing(
    due_task, real_redis, mail_alerts, mailoutbox, caplog
):
    broken = scheduler_on(real_redis, MisreadingBackend)
    broken.enqueue_jobs()
    operations.unschedule(due_task, RQBackend(connection=real_redis), defer=False)
    Task.objects.filter(pk=due_task.pk).update(scheduled_job_id=None)
    broken._overdue._next_look = 0  # its next look at the whole schedule (every heartbeat period)
    broken.enqueue_jobs()
    [_, cleared] = mailoutbox
    assert cleared.subject.endswith("Firing no longer overdue: “nightly export”")
    assert real_redis.hlen(OVERDUE_KEY) == 0


def test_a_lost_firing_is_not_looped_on(due_task, real_redis, settings):
    """The scheduler waits its interval before trying a firing whose claim it lost."""
    settings.EZTASKMANAGER_OVERDUE_FIRING_SECONDS = 0  # not looked for
    broken = scheduler_on(real_redis, MisreadingBackend)
    broken.enqueue_jobs()
    real_redis.delete(WAKE_KEY)  # the schedule writes above woke it up
    started = time.monotonic()
    broken.wait_for_work(0.3)
    assert time.monotonic() - started >= 0.25


def test_a_firing_only_late_is_sent_without_an_alert(
    due_task, real_redis, mail_alerts, mailoutbox, caplog
):
    """A scheduler that starts after the due time (it was down) sends the firing: late, not
    overdue, so no ERROR and no alert."""
    with caplog.at_level(logging.INFO):
        [job] = scheduler_on(real_redis).enqueue_jobs()
    assert job.id == LaunchReport.objects.get(task=due_task).rq_job_id
    assert errors_of(caplog) == [] and mailoutbox == []
    assert real_redis.hlen(OVERDUE_KEY) == 0
