"""JSON status, Prometheus metrics and the dashboard: who may see them and what they show."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.backends import RQBackend
from eztaskmanager.cli import format_status
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.scheduler.process import TaskScheduler
from eztaskmanager.web.monitoring import collect_metrics, exposition
from eztaskmanager.web.status import collect_status
from tests import factories

pytestmark = pytest.mark.django_db

NASTY = 'Import <script>alert("x")</script>'


@pytest.fixture
def user_with(django_user_model):
    def make(*codenames, staff=True, name="someone"):
        return factories.make_user(name, *codenames, password="pw", is_staff=staff)

    return make


@pytest.fixture
def monitor(client, user_with):
    """A client logged in as staff with the view permissions on tasks and reports."""
    client.force_login(user_with("view_task", "view_launchreport", name="monitor"))
    return client


@pytest.fixture
def history(make_task, real_redis):
    """Tasks and reports of each kind: ok, failed, running with progress, scheduled."""
    now = timezone.now()
    fine = make_task(name="fine")
    bad = make_task(name=NASTY)
    later = make_task(name="later")
    factories.make_report(fine, invocation_result="ok", duration=2.0)
    factories.make_report(fine, invocation_result="ok", duration=4.0)
    old = factories.make_report(fine, invocation_result="warnings", duration=1.0)
    LaunchReport.objects.filter(pk=old.pk).update(invocation_datetime=now - timedelta(days=3))
    factories.make_report(bad, invocation_result="failed", duration=0.5)
    running = factories.running_report(
        bad,
        heartbeat=False,
        progress_done=30,
        progress_total=120,
        started_at=now - timedelta(minutes=5),
    )
    LaunchReport.objects.filter(pk=running.pk).update(
        invocation_datetime=now - timedelta(minutes=5)
    )
    Task.objects.filter(pk=bad.pk).update(
        cached_last_invocation_result="failed", cached_last_invocation_datetime=now
    )
    Task.objects.filter(pk=fine.pk).update(
        cached_last_invocation_result="ok", cached_last_invocation_datetime=now
    )
    Task.objects.filter(pk=later.pk).update(
        status="scheduled", cached_next_ride=now + timedelta(hours=3)
    )
    return {"fine": fine, "bad": bad, "later": later}


# -- JSON status -----------------------------------------------------------------------------


def test_status_json_needs_staff_with_view_permissions(client, user_with):
    url = reverse("eztaskmanager:status_json")
    assert client.get(url).status_code == 403
    client.force_login(user_with("view_task", name="half"))
    assert client.get(url).status_code == 403
    client.force_login(user_with("view_task", "view_launchreport", staff=False, name="outsider"))
    assert client.get(url).status_code == 403


def test_status_json_reports_runs_and_redis(monitor, history):
    response = monitor.get(reverse("eztaskmanager:status_json"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["redis"]["reachable"] is True
    assert data["runs_24h"] == {
        "ok": 2,
        "warnings": 0,
        "errors": 0,
        "failed": 1,
        "running": 1,
        "queued": 0,
    }
    assert data["running"]["count"] == 1
    assert data["running"]["oldest_age_seconds"] >= 300
    assert monitor.post(reverse("eztaskmanager:status_json")).status_code == 405


# -- Prometheus ------------------------------------------------------------------------------


def test_metrics_are_404_unless_enabled(admin_client):
    assert admin_client.get(reverse("eztaskmanager:metrics")).status_code == 404


def test_metrics_need_staff_or_the_token(client, settings, user_with, history):
    settings.EZTASKMANAGER_PROMETHEUS_ENABLED = True
    settings.EZTASKMANAGER_PROMETHEUS_TOKEN = "s3cret"
    url = reverse("eztaskmanager:metrics")

    assert client.get(url).status_code == 403
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    client.force_login(user_with("view_task", name="half"))
    assert client.get(url).status_code == 403
    client.force_login(user_with("view_task", "view_launchreport", name="whole"))
    assert client.get(url).status_code == 200


def test_metrics_content(monitor, settings, history):
    parser = pytest.importorskip("prometheus_client.parser")
    settings.EZTASKMANAGER_PROMETHEUS_ENABLED = True

    response = monitor.get(reverse("eztaskmanager:metrics"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in parser.text_string_to_metric_families(response.content.decode())}
    bad, fine = str(history["bad"].pk), str(history["fine"].pk)

    def value(name, **labels):
        [sample] = [s for s in families[name].samples if labels.items() <= s.labels.items()]
        return sample.value

    assert value("eztaskmanager_runs_24h", task_id=fine, result="ok") == 2
    assert value("eztaskmanager_runs_24h", task_id=bad, result="failed") == 1
    assert value("eztaskmanager_runs_24h", task_id=bad, result="running") == 1
    assert families["eztaskmanager_runs_24h"].samples[-1].labels["task"] == NASTY
    assert value("eztaskmanager_run_duration_seconds_avg_24h", task_id=fine) == 3.0
    assert value("eztaskmanager_run_duration_seconds_max_24h", task_id=fine) == 4.0
    assert value("eztaskmanager_last_run_timestamp_seconds", task_id=bad, result="failed") > 0
    assert value("eztaskmanager_running_runs") == 1
    assert value("eztaskmanager_oldest_running_run_age_seconds") >= 300
    assert value("eztaskmanager_redis_up") == 1
    assert value("eztaskmanager_queue_jobs", queue="default", state="queued") == 0
    assert value("eztaskmanager_workers") == 0


def test_the_plain_writer_gives_the_same_metrics(history):
    parser = pytest.importorskip("prometheus_client.parser")
    from prometheus_client import generate_latest  # noqa: F401  (the other writer exists)

    from eztaskmanager.web.monitoring import client_exposition

    metrics = collect_metrics()
    plain = exposition(metrics)
    assert '\\"x\\"' in plain  # quotes in a task name are escaped in its label

    def samples(text):
        return sorted(
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for family in parser.text_string_to_metric_families(text)
            for s in family.samples
        )

    assert samples(plain) == samples(client_exposition(metrics)[0].decode())


# -- dashboard -------------------------------------------------------------------------------


def test_dashboard_needs_staff_with_view_permissions(client, user_with):
    url = reverse("eztaskmanager:dashboard")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(user_with("view_launchreport", name="half"))
    assert client.get(url).status_code == 403


def test_dashboard_shows_results_runs_schedules_and_failures(monitor, history):
    response = monitor.get(reverse("eztaskmanager:dashboard"))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="10">' in page
    results = {row["result"]: (row["day"], row["week"]) for row in response.context["results"]}
    assert results == {
        "ok": (2, 2),
        "warnings": (0, 1),
        "errors": (0, 0),
        "failed": (1, 1),
        "running": (1, 1),
        "queued": (0, 0),
    }
    assert "1 run in progress" in page
    assert '<progress class="eztm-progress" max="120" value="30"></progress> 25%' in page
    assert "later" in page and "No task is scheduled." not in page
    assert NASTY not in page
    assert "Import &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Workers alive" in page and "Schedulers alive" in page


def test_dashboard_queries_do_not_grow_with_the_tables(monitor, make_task, real_redis):
    url = reverse("eztaskmanager:dashboard")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert monitor.get(url).status_code == 200
        return len(captured)

    now = timezone.now()
    task = make_task(name="first")
    factories.make_report(task, invocation_result="failed")
    factories.make_report(task, progress_done=1, progress_total=2)
    few = queries()

    for n in range(30):
        other = make_task(name=f"task {n}")
        factories.make_report(other, invocation_result="errors")
        factories.make_report(other)
        Task.objects.filter(pk=other.pk).update(
            cached_next_ride=now + timedelta(minutes=n),
            cached_last_invocation_result="errors",
            cached_last_invocation_datetime=now,
        )
    assert queries() == few


def test_the_app_index_links_to_the_dashboard(admin_client, client, user_with):
    url = reverse("eztaskmanager:dashboard")
    page = admin_client.get(reverse("admin:app_list", args=["eztaskmanager"])).content.decode()
    assert f'href="{url}"' in page

    client.force_login(user_with("view_task", name="tasks only"))
    page = client.get(reverse("admin:app_list", args=["eztaskmanager"])).content.decode()
    assert f'href="{url}"' not in page


def test_status_and_metrics_say_when_the_scheduler_was_last_seen(db, real_redis):
    service = RQBackend(connection=real_redis)
    scheduler = TaskScheduler(queue=service.queue, connection=real_redis, name="s1")
    scheduler.register_birth()
    scheduler.heartbeat()

    data = collect_status(connection=real_redis)
    [alive] = data["schedulers"]
    assert alive["name"] == "s1" and alive["heartbeat_age_seconds"] < 60
    assert data["scheduler_last_seen_age_seconds"] < 60
    text = exposition(collect_metrics(connection=real_redis))
    assert "eztaskmanager_scheduler_last_seen_seconds " in text

    scheduler.register_death()
    real_redis.delete(scheduler.key)  # gone: its key expired
    data = collect_status(connection=real_redis)
    assert data["schedulers"] == []
    assert data["scheduler_last_seen"] is not None  # still known when it was last seen
    assert "No scheduler alive; the last one was seen" in format_status(data)
