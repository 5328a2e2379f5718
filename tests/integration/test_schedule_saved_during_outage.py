"""A schedule saved in the admin while Redis is down runs once Redis is back.

The test's own Redis server is stopped; a superuser saves a task every 3 seconds through the
admin (the page says the schedule was not applied); the server starts again, empty, and a real
``taskmanager scheduler`` (no periodic sync) and a worker start: the task runs.
"""

from __future__ import annotations

import pytest
import redis
from django.test import Client
from django.urls import reverse

from eztaskmanager.admin import actions as admin_operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import LaunchReport, Task
from tests.admin.test_admin import form_data, messages_of
from tests.integration.conftest import wait_for, wait_process

TASK_WORKER = ("rqworker", "--worker-class", "eztaskmanager.worker.TaskWorker", "default")
# No periodic sync within the test: the schedule can only come from the sync the scheduler runs
# when it finds Redis new or wiped, so the wait for the run below is a mere hang guard.
SCHEDULER = ("taskmanager", "scheduler", "--interval", "0.2", "--sync-interval", "3600")

pytestmark = pytest.mark.integration


def test_a_schedule_saved_while_redis_is_down_runs_once_it_is_back(
    processes, private_redis, settings, monkeypatch, admin_user, make_command
):
    port = private_redis["port"]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # the processes started below use it
    client_redis = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=2)
    monkeypatch.setattr(admin_operations, "get_backend", lambda: RQBackend(connection=client_redis))
    command = make_command("eztm_lines")
    private_redis["process"].terminate()
    wait_process(private_redis["process"])

    client = Client()
    client.force_login(admin_user)
    add_url = reverse("admin:eztaskmanager_task_add")
    data = form_data(
        client,
        add_url,
        name="every 3 s",
        command=command.pk,
        arguments="1",
        repetition_period="second",
        repetition_rate="3",
    )
    response = client.post(add_url, data, follow=True)

    assert response.status_code == 200
    [message] = [m for m in messages_of(response) if "not applied" in m]
    assert message.startswith("“every 3 s” was saved, but its schedule was not applied")
    task = Task.objects.get(name="every 3 s")
    assert (task.status, task.scheduled_job_id, task.schedule_enabled) == ("idle", None, True)

    private_redis["process"] = private_redis["start"]()  # back, and empty
    scheduler = processes.start(*SCHEDULER)
    worker = processes.start(*TASK_WORKER)

    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="a run of the task saved during the outage",
    )
    assert report.invocation_result == "ok", processes.output(worker)
    task.refresh_from_db()
    assert task.scheduled_job_id and task.schedule_error == ""
    assert task.status in (Task.STATUS_SCHEDULED, Task.STATUS_STARTED, Task.STATUS_SPOOLED)
    assert scheduler.poll() is None and worker.poll() is None
