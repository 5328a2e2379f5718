"""``taskmanager devserver``: web server, worker and scheduler on an embedded Redis, one Ctrl-C."""

import http.cookiejar
import os
import re
import signal
import socket
import urllib.parse
import urllib.request

import pytest
import redis
from django.contrib.auth import get_user_model

from eztaskmanager.__main__ import point_queues_at
from eztaskmanager.cli.devserver import DevServer, EmbeddedRedis
from eztaskmanager.models import LaunchReport
from tests.integration.conftest import descendants, patience, wait_for, wait_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """A logged-in admin session over HTTP, as a staff user's browser has."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=patience(60)) as response:  # hang guard
            return response.read().decode()

    def post(self, path: str, fields: list[tuple[str, str]], form: str | None = None) -> str:
        """Submit ``fields`` to ``path`` with the CSRF token of the page ``form`` (or ``path``)."""
        page = self.get(form or path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        data = urllib.parse.urlencode([("csrfmiddlewaretoken", token), *fields]).encode()
        with self.opener.open(self.base + path, data=data, timeout=patience(60)) as response:
            return response.read().decode()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_devserver_runs_a_task_launched_from_the_admin_and_stops_on_ctrl_c(
    processes, make_task, real_redis
):
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    quick = make_task("eztm_lines", "3, --level warning", name="quick")
    sleeper = make_task("eztm_sleep", "60", name="sleeper")
    port = free_port()

    devserver = processes.start("taskmanager", "devserver", f"127.0.0.1:{port}", "--embedded-redis")
    wait_for(  # or gone: a devserver that stopped is not waited for the whole hang guard
        lambda: (
            "django-eztaskmanager is running" in processes.output(devserver)
            or devserver.poll() is not None
        ),
        interval=0.2,
        what="the devserver to be up",
    )
    output = processes.output(devserver)
    assert devserver.poll() is None, output
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert "Redis: embedded fakeredis at redis://127.0.0.1:" in output

    browser = Browser(f"http://127.0.0.1:{port}")
    browser.post("/admin/login/", [("username", "boss"), ("password", "pw"), ("next", "/admin/")])
    page = browser.post(
        "/admin/eztaskmanager/task/",
        [("action", "launch_tasks"), ("index", "0"), ("_selected_action", str(quick.pk))],
    )
    assert "Queued for a worker: “quick”." in page

    report = wait_for(
        lambda: LaunchReport.objects.filter(task=quick).exclude(invocation_result="").first(),
        what="the quick run to end",
    )
    assert report.invocation_result == "warnings"
    assert list(report.logs.values_list("message", flat=True)) == [
        f"line {i} of 3" for i in (1, 2, 3)
    ]
    assert not real_redis.keys("rq:*")  # the embedded Redis was used, not the real one

    change_page = f"/admin/eztaskmanager/task/{sleeper.pk}/change/"
    page = browser.post(f"/admin/eztaskmanager/task/{sleeper.pk}/launch/", [], form=change_page)
    assert "Queued for a worker: “sleeper”." in page
    wait_for(
        lambda: LaunchReport.objects.filter(task=sleeper, n_lines__gt=0).exists(),
        what="the sleeper to start",
    )

    family = descendants(devserver.pid)  # web, worker, its work horse, scheduler
    assert len(family) >= 4, processes.output(devserver)
    os.killpg(devserver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert wait_process(devserver) == 0, processes.output(devserver)

    assert "Stopped: web server, worker and scheduler." in processes.output(devserver)
    assert [pid for pid in family if alive(pid)] == []
    interrupted = LaunchReport.objects.get(task=sleeper)
    assert interrupted.invocation_result == "failed"  # closed, not left running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.redis
def test_devserver_uses_the_configured_redis_when_it_answers(settings):
    lines = []
    server = DevServer(write=lines.append)
    assert server.choose_redis() is None
    assert server.redis is None
    assert lines == [f"Redis: {settings.REDIS_URL.split('//')[1]}"]


def test_devserver_starts_an_embedded_redis_when_none_answers(settings):
    settings.RQ_QUEUES = {"default": {"HOST": "127.0.0.1", "PORT": 1, "DB": 0}}
    lines = []
    server = DevServer(write=lines.append)
    try:
        url = server.choose_redis()
        assert url == server.redis.url and url.startswith("redis://127.0.0.1:")
        assert redis.Redis.from_url(url).ping()
    finally:
        server.redis.stop()
    assert "Redis is not reachable at 127.0.0.1:1/0" in lines[0]


def test_embedded_redis_answers_like_redis(settings):
    server = EmbeddedRedis().start()
    try:
        client = redis.Redis.from_url(server.url)
        info = client.client_info()  # what every RQ worker asks at start
        assert re.fullmatch(r"127\.0\.0\.1:\d+", info["addr"])
        with pytest.raises(redis.ResponseError, match="unknown command"):
            client.execute_command("NO-SUCH-COMMAND")
        connection = client.connection_pool.make_connection()  # one connection of our own
        connection.send_command("NO-SUCH-COMMAND")
        with pytest.raises(redis.ResponseError):
            connection.read_response()
        connection.send_command("PING")
        assert connection.read_response() in (b"PONG", "PONG", True)  # same connection, still open
        connection.disconnect()
    finally:
        server.stop()


def test_point_queues_at_replaces_only_the_connection():
    queues = {
        "default": {"HOST": "db", "PORT": 6380, "DB": 3, "PASSWORD": "x", "DEFAULT_TIMEOUT": 60},
        "low": {"URL": "redis://elsewhere:6379/1"},
    }
    assert point_queues_at(queues, "redis://127.0.0.1:7000/0") == {
        "default": {"DEFAULT_TIMEOUT": 60, "URL": "redis://127.0.0.1:7000/0"},
        "low": {"URL": "redis://127.0.0.1:7000/0"},
    }
