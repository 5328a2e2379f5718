"""Missed-run alerts: one alert when a task becomes overdue, one when it recovers.

Email through Django's locmem backend (pytest-django's ``mailoutbox``), Slack through the local
HTTP server speaking the Web API and the webhook of ``test_notifications``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.models import Task
from eztaskmanager.notifications import (
    EmailNotificationHandler,
    NotificationHandler,
    alerts,
    send_alert,
)
from eztaskmanager.services import run_management_command
from tests.notifications.test_notifications import EMAIL, SLACK, SLACK_WEBHOOK, TOKEN
from tests.scheduler.test_sync import make_scheduler

pytestmark = pytest.mark.django_db


@pytest.fixture
def handlers(settings, slack_server):
    """Email, Slack Web API and Slack webhook, all at the "failed" level (alerts ignore it)."""
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": {"class": EMAIL, "from_email": None, "recipients": ["ops@example.com"]}
        | {"level": "failed"},
        "slack": {
            "class": SLACK,
            "token": TOKEN,
            "channel": "#ops",
            "level": "failed",
            "base_url": slack_server.api_url,
        },
        "hook": {
            "class": SLACK_WEBHOOK,
            "webhook_url": f"http://127.0.0.1:{slack_server.server_port}/services/T/B/secret",
            "level": "failed",
        },
    }
    return slack_server


def slack_texts(server) -> list[tuple[str, str]]:
    """(path, text) of every message the Slack server received."""
    out = []
    for request in server.requests:
        body = request["body"]
        payload = json.loads(body) if body.startswith("{") else {}
        out.append((request["path"], payload.get("text", body)))
    return out


def watched_task(make_task, minutes=30, **fields) -> Task:
    return make_task(
        "eztm_lines", "1", name="nightly <import>", alert_after_minutes=minutes, **fields
    )


def test_overdue_once_then_recovered_once(make_task, handlers, mailoutbox):
    task = watched_task(make_task)
    start = timezone.now() - timedelta(hours=2)
    assert alerts.check_overdue(now=start) == []  # the count starts here
    assert alerts.check_overdue(now=start + timedelta(minutes=29)) == []
    [alerted] = alerts.check_overdue(now=start + timedelta(minutes=31))
    assert alerted.pk == task.pk
    assert alerts.check_overdue(now=start + timedelta(minutes=45)) == []  # alerted once

    [mail] = mailoutbox
    assert mail.subject == (
        "[eztaskmanager] Overdue: “nightly <import>” has not run successfully for 30 min"
    )
    assert "has had no run ending ok or with warnings since" in mail.body
    texts = slack_texts(handlers)
    assert [path for path, _ in texts] == ["/api/chat.postMessage", "/services/T/B/secret"]
    assert all("Overdue: “nightly &lt;import&gt;”" in text for _, text in texts)
    task.refresh_from_db()
    assert task.overdue_since == start + timedelta(minutes=30)

    failed = make_task("eztm_lines", "2, --fail-at 1", name="other")
    run_management_command(failed.pk)  # another task's failure recovers nothing
    Task.objects.filter(pk=task.pk).update(arguments="2, --fail-at 1")
    run_management_command(task.pk)  # a failure of the task itself neither
    failure_mails = [m for m in mailoutbox if "Recovered" in m.subject]
    assert failure_mails == []

    Task.objects.filter(pk=task.pk).update(arguments="1, --level warning")
    report = run_management_command(task.pk)
    assert report.invocation_result == "warnings"
    recovered = [m for m in mailoutbox if "Recovered" in m.subject]
    assert [m.subject for m in recovered] == [
        "[eztaskmanager] Recovered: “nightly <import>” ran successfully again"
    ]
    assert f"run {report.pk} ended warnings" in recovered[0].body
    task.refresh_from_db()
    assert task.overdue_since is None and task.alert_counted_from == report.finished_at

    run_management_command(task.pk)  # a second success: no second recovery
    assert len([m for m in mailoutbox if "Recovered" in m.subject]) == 1
    assert len([t for _, t in slack_texts(handlers) if "Recovered" in t]) == 2  # API + webhook


def test_a_successful_run_restarts_the_count(make_task, handlers, mailoutbox):
    task = watched_task(make_task, minutes=60)
    alerts.check_overdue(now=timezone.now() - timedelta(minutes=50))
    run_management_command(task.pk)
    assert alerts.check_overdue(now=timezone.now() + timedelta(minutes=30)) == []
    assert [t.pk for t in alerts.check_overdue(now=timezone.now() + timedelta(minutes=61))] == [
        task.pk
    ]
    assert len(mailoutbox) == 1


def test_tasks_without_an_alert_or_with_notifications_off(make_task, handlers, mailoutbox):
    make_task(name="no alert")
    quiet = watched_task(make_task, notification_level=Task.NOTIFY_OFF)
    start = timezone.now() - timedelta(hours=2)
    alerts.check_overdue(now=start)
    assert [t.pk for t in alerts.check_overdue()] == [quiet.pk]  # overdue, but told nobody
    assert mailoutbox == [] and handlers.requests == []


def test_a_failing_handler_is_logged_and_the_others_still_send(
    make_task, handlers, mailoutbox, caplog
):
    handlers.answer_json({"ok": False, "error": "channel_not_found"})
    task = watched_task(make_task)
    alerts.check_overdue(now=timezone.now() - timedelta(hours=1))
    assert [t.pk for t in alerts.check_overdue()] == [task.pk]
    assert len(mailoutbox) == 1
    assert "Slack answered HTTP 200: channel_not_found" in caplog.text


def test_alert_returns_false_instead_of_raising(settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: refused
    handler = EmailNotificationHandler(None, ["ops@example.com"], "ok")
    assert handler.alert("subject", "text") is False

    class ReportsOnly(NotificationHandler):
        def emit(self, report):
            raise AssertionError("not called for alerts")

    assert ReportsOnly("ok").alert("subject", "text") is False


def test_send_alert_counts_the_handlers_that_sent(settings, mailoutbox):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": {
            "class": EMAIL,
            "from_email": None,
            "recipients": ["a@example.com"],
            "level": "ok",
        },
        "broken": {"class": "no.such.Handler", "level": "ok"},
    }
    assert send_alert("Subject\nwith a newline", "body") == 1
    [mail] = mailoutbox
    assert mail.subject == "[eztaskmanager] Subject with a newline"


def test_the_scheduler_checks_and_survives_a_failing_check(
    make_task, handlers, mailoutbox, fake_backend, monkeypatch, caplog
):
    task = watched_task(make_task)
    Task.objects.filter(pk=task.pk).update(alert_counted_from=timezone.now() - timedelta(hours=1))
    scheduler = make_scheduler(fake_backend)
    scheduler.enqueue_jobs()
    assert [m.subject for m in mailoutbox] == [
        "[eztaskmanager] Overdue: “nightly <import>” has not run successfully for 30 min"
    ]

    def broken(now=None):
        raise RuntimeError("database went away")

    monkeypatch.setattr(alerts, "check_overdue", broken)
    scheduler._next_reap = 0
    scheduler.enqueue_jobs()  # does not raise
    assert "Checking for overdue tasks failed" in caplog.text


def test_the_dashboard_lists_overdue_tasks(make_task, admin_client, real_redis):
    task = watched_task(make_task)
    Task.objects.filter(pk=task.pk).update(overdue_since=timezone.now() - timedelta(minutes=5))
    make_task(name="fine", alert_after_minutes=30)

    def overdue_part() -> str:
        page = admin_client.get(reverse("eztaskmanager:dashboard")).content.decode()
        part = page[page.index('id="eztm-overdue"') :]
        return part[: part.index("</table>")]

    assert "nightly &lt;import&gt;" in overdue_part() and "fine" not in overdue_part()
    assert "alert after 30 min" in overdue_part()
    # The alert removed: the task is overdue no more at the next check.
    Task.objects.filter(pk=task.pk).update(alert_after_minutes=None)
    alerts.check_overdue()
    assert "nightly" not in overdue_part() and "No task is overdue." in overdue_part()
