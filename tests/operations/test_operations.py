"""The operations layer: one outcome type, the policy checked, history kept, Redis after commit."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from eztaskmanager import operations
from eztaskmanager.models import AppCommand, Task
from eztaskmanager.operations import audit

pytestmark = pytest.mark.django_db


def test_launch_returns_a_queued_outcome_and_records_the_api_actor(make_task, fake_backend):
    task = make_task()
    outcome = operations.launch(task, fake_backend, defer=False)
    assert (outcome.state, outcome.report, outcome.deferred) == (operations.QUEUED, None, False)
    assert fake_backend.queue.job_ids == [outcome.job_id]
    assert [(e.user.username, e.change_message) for e in audit.history(task)] == [
        ("eztaskmanager-api", "Launched")
    ]


def test_inside_a_transaction_redis_hears_of_it_on_commit(make_task, fake_backend, committed):
    task = make_task()
    with committed():
        outcome = operations.launch(task, fake_backend)
        assert outcome.deferred and fake_backend.queue.count == 0
    assert fake_backend.queue.job_ids == [outcome.job_id]


def test_a_rolled_back_schedule_leaves_nothing_in_redis(make_task, fake_backend, committed):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    with committed():
        try:
            with transaction.atomic():
                operations.schedule(task, fake_backend)
                raise RuntimeError("the save fails after the schedule")
        except RuntimeError:
            pass
    assert fake_backend.scheduler.count() == 0
    task.refresh_from_db()
    assert task.scheduled_job_id is None


def test_a_command_the_policy_refuses_is_neither_launched_nor_scheduled(make_task, fake_backend):
    task = make_task()
    AppCommand.objects.filter(pk=task.command_id).update(name="dumpdata", app_name="django.core")
    task = Task.objects.select_related("command").get(pk=task.pk)
    with pytest.raises(operations.NotAllowed, match="command not allowed: dumpdata"):
        operations.launch(task, fake_backend, defer=False)
    task.scheduling = timezone.now() + timedelta(hours=1)
    with pytest.raises(operations.NotAllowed):
        operations.schedule(task, fake_backend, defer=False)
    assert fake_backend.queue.count == 0 and fake_backend.scheduler.count() == 0


def test_redis_down_puts_the_task_back_and_says_unreachable(make_task):
    import redis

    from eztaskmanager.backends import RQBackend

    backend = RQBackend(connection=redis.Redis(port=1, socket_connect_timeout=0.5))
    task = make_task()
    with pytest.raises(operations.BackendError) as info:
        operations.launch(task, backend, defer=False)
    assert info.value.unreachable
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE
