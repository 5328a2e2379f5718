"""0.5.x's change-form buttons ``_start-task`` / ``_stop-task`` in the task admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from eztaskmanager import compat, operations
from eztaskmanager.models import Task
from tests.admin.test_admin import (  # noqa: F401  (fixtures)
    EDITOR,
    LAUNCHER,
    change_url,
    fake_queue,
    form_data,
    messages_of,
    staff_client,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:the admin POST name:DeprecationWarning"),
]


@pytest.fixture(autouse=True)
def clean_slate():
    compat.forget_uses()
    yield
    compat.forget_uses()


def test_start_task_saves_then_launches(staff_client, make_task, fake_queue):  # noqa: F811
    task = make_task(name="old button")
    client = staff_client(*LAUNCHER)
    url = change_url(task)
    response = client.post(url, form_data(client, url, note="edited", **{"_start-task": "1"}))
    assert response.status_code == 302 and response["Location"] == url
    task.refresh_from_db()
    assert task.note == "edited"
    assert fake_queue.queue.count == 1
    assert "Queued for a worker: “old button”." in messages_of(client.get(url))
    assert "the admin POST name '_start-task'" in compat.used_names()


def test_stop_task_unschedules(staff_client, make_task, fake_queue):  # noqa: F811
    task = make_task(name="scheduled", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_queue, defer=False)
    client = staff_client(*LAUNCHER)
    url = change_url(task)
    response = client.post(url, form_data(client, url, **{"_stop-task": "1"}), follow=True)
    assert (
        "“scheduled” is stopped (its schedule, if any, is paused); it had no running run."
        in messages_of(response)
    )
    assert fake_queue.scheduler.count() == 0
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE


@pytest.mark.parametrize("button", ["_start-task", "_stop-task"])
def test_buttons_take_the_launch_permission(staff_client, make_task, fake_queue, button):  # noqa: F811
    task = make_task(name="guarded", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_queue, defer=False)
    editor = staff_client(*EDITOR)
    url = change_url(task)
    data = form_data(editor, url, note="not saved", **{button: "1"})
    assert editor.post(url, data).status_code == 403
    task.refresh_from_db()
    assert task.note != "not saved"  # refused before anything is saved
    assert fake_queue.queue.count == 0 and fake_queue.scheduler.count() == 1


def test_invalid_form_launches_nothing(staff_client, make_task, fake_queue):  # noqa: F811
    task = make_task(name="bad")
    client = staff_client(*LAUNCHER)
    url = change_url(task)
    data = form_data(client, url, arguments="--count=notanumber", **{"_start-task": "1"})
    response = client.post(url, data)
    assert response.status_code == 200 and "invalid int value" in response.content.decode()
    assert fake_queue.queue.count == 0


def test_missing_task_is_the_admins_redirect(staff_client, fake_queue):  # noqa: F811
    client = staff_client(*LAUNCHER)
    url = change_url(Task(pk=999_999))
    response = client.post(url, {"_start-task": "1"})
    assert response.status_code == 302 and "/admin/" in response["Location"]
    assert fake_queue.queue.count == 0


def test_start_task_with_a_new_schedule_applies_it_then_launches(
    staff_client,  # noqa: F811
    make_task,
    fake_queue,  # noqa: F811
):
    task = make_task(name="both")
    client = staff_client(*LAUNCHER)
    url = change_url(task)
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    data = form_data(
        client,
        url,
        scheduling=when,
        repetition_period="day",
        repetition_rate="1",
        **{"_start-task": "1"},
    )
    response = client.post(url, data, follow=True)
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED and task.cached_next_ride == when
    assert [job.id for job in fake_queue.scheduler.get_jobs()] == [task.scheduled_job_id]
    assert fake_queue.queue.count == 1  # and a run now
    shown = messages_of(response)
    assert any(m.startswith("“both” is scheduled; next run at") for m in shown)
    assert "Queued for a worker: “both”." in shown
