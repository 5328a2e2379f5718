"""Notifications: Slack through a real local HTTP server, email through Django's mail backends,
the level matrix, the per-task override, failures logged on the report, and the system check."""

from __future__ import annotations

import html
import json
import re
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpResponse
from django.urls import include, path, reverse

from eztaskmanager import operations
from eztaskmanager.models import LaunchReport
from eztaskmanager.notifications import (
    SLACK_FIELD_TEXT_LIMIT,
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_TEXT_LIMIT,
    NotificationHandler,
    emit_notifications,
)
from tests import factories

SLACK = "eztaskmanager.notifications.SlackNotificationHandler"
SLACK_WEBHOOK = "eztaskmanager.notifications.SlackWebhookNotificationHandler"
EMAIL = "eztaskmanager.notifications.EmailNotificationHandler"
TOKEN = "xoxb-test-token"


def _not_served(request, pk):  # the link target; these tests never open it
    return HttpResponse()


# This module is the URLconf of its tests: links in messages do not depend on the real views.
urlpatterns = [
    path(
        "eztaskmanager/",
        include(
            (
                [path("reports/<int:pk>/live/", _not_served, name="live_log_viewer")],
                "eztaskmanager",
            )
        ),
    )
]


class NoLogViewerURLs:
    """A URLconf without the live log viewer."""

    urlpatterns: list = []


pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def live_log_link(report) -> str:
    return f"http://testserver/eztaskmanager/reports/{report.pk}/live/"


# -- a local server speaking the Slack Web API ---------------------------------------------------


class SlackAPIRequestHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
        )
        status, content_type, answer = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):  # keep the test output quiet
        pass


class LocalSlackServer(ThreadingHTTPServer):
    """Answers every POST with ``answer`` (status, content type, body) and keeps the requests."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SlackAPIRequestHandler)
        self.requests: list[dict] = []
        self.answer_json({"ok": True, "channel": "C0123456", "ts": "1700000000.000100"})

    def answer_json(self, data: dict, status: int = 200) -> None:
        self.answer = (status, "application/json; charset=utf-8", json.dumps(data).encode())

    def answer_text(self, text: str, status: int) -> None:
        self.answer = (status, "text/plain; charset=utf-8", text.encode())

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/api/"

    def payloads(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def closed_port():
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def immediate_runs(settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    settings.EZTASKMANAGER_BASE_URL = "http://testserver"
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {}


@pytest.fixture
def handlers(settings):
    """Set EZTASKMANAGER_NOTIFICATION_HANDLERS for the test."""

    def configure(**config):
        settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = config

    return configure


@pytest.fixture
def run(make_task):
    """Launch a new task through the (immediate) queue service; return its fresh report."""

    def launch(command: str, arguments: str = "", **fields) -> LaunchReport:
        report = operations.launch(make_task(command, arguments, **fields), defer=False).report
        report.refresh_from_db()
        return report

    return launch


def slack(server, level="ok", **options):
    return {
        "class": SLACK,
        "token": TOKEN,
        "channel": "#ops",
        "level": level,
        "base_url": server.api_url,
        **options,
    }


def email(level="ok", **options):
    return {
        "class": EMAIL,
        "from_email": "tasks@example.com",
        "recipients": ["ops@example.com", "dev@example.com"],
        "level": level,
        **options,
    }


def log_lines(report) -> list[tuple[int, str, str]]:
    return list(report.logs.order_by("lineno").values_list("lineno", "level", "message"))


def section_texts(payload) -> list[str]:
    return [block["text"]["text"] for block in payload["blocks"] if "text" in block]


def field_texts(payload) -> list[str]:
    return [field["text"] for block in payload["blocks"] for field in block.get("fields", [])]


# -- Slack ---------------------------------------------------------------------------------------


def test_slack_message_reaches_the_web_api(run, handlers, slack_server):
    handlers(slack=slack(slack_server, level="warnings"))
    report = run("eztm_echo", "a<b>&c", name="<script>alert(1)</script> & co")

    assert report.invocation_result == "warnings" and report.n_warnings == 5
    [request] = slack_server.requests
    assert request["path"] == "/api/chat.postMessage"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert "<script>" not in request["body"]

    payload = json.loads(request["body"])
    assert payload["channel"] == "#ops"
    escaped_name = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert payload["text"] == f"{escaped_name}: warnings (5 warnings)"
    texts = section_texts(payload)
    assert texts[0] == f":warning: *{escaped_name}* ended with *warnings*"
    fields = field_texts(payload)
    assert fields[:4] == [
        "*Result*\nwarnings",
        "*Errors*\n0",
        "*Warnings*\n5",
        f"*Duration*\n{report.duration:.2f} s",
    ]
    assert re.fullmatch(r"\*Started\*\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", fields[4])
    assert f"<{live_log_link(report)}|Open the live log>" in texts
    # One reason line, no log lines: the log is behind the link.
    assert "*Last warning:* count=0 shout=False" in texts
    assert texts[-1] == f"<{live_log_link(report)}|Open the live log>"

    # A delivered message leaves no trace in the log.
    assert report.n_lines == 5 and len(log_lines(report)) == 5


def test_slack_failed_run_shows_the_failure_reason(run, handlers, slack_server):
    handlers(slack=slack(slack_server, level="failed"))
    report = run("eztm_fail", "", name="nightly import")

    [payload] = slack_server.payloads()
    assert payload["text"] == "nightly import: failed (1 error, 1 warning)"
    assert "*Failure:* ValueError: boom" in section_texts(payload)
    assert "Traceback" not in json.dumps(payload) and "File " not in json.dumps(payload)
    assert ".py" not in json.dumps(payload)
    assert report.invocation_result == "failed"


def assert_failure_logged(report, n_lines_before, *words):
    """The report ends with one WARNING line about the notification; the run is unchanged."""
    fresh = LaunchReport.objects.get(pk=report.pk)
    lines = log_lines(fresh)
    lineno, level, message = lines[-1]
    assert lineno == n_lines_before + 1
    assert [number for number, _, _ in lines] == list(range(1, lineno + 1))
    assert level == "WARNING"
    for word in words:
        assert word in message
    assert fresh.n_lines == n_lines_before + 1
    # Counters and result still say what the command logged, without the notification line.
    command_levels = [level for _, level, _ in lines[:-1]]
    assert fresh.n_errors == command_levels.count("ERROR")
    assert fresh.n_warnings == command_levels.count("WARNING")
    assert fresh.invocation_result == ("failed" if fresh.failure_reason else fresh.derive_result())
    fresh.task.refresh_from_db()
    assert fresh.task.cached_last_invocation_result == fresh.invocation_result
    assert fresh.task.cached_last_invocation_n_warnings == fresh.n_warnings
    return message


def test_slack_ok_false_is_logged_on_the_report(run, handlers, slack_server):
    slack_server.answer_json({"ok": False, "error": "channel_not_found"})
    handlers(slack=slack(slack_server, level="errors"))
    report = run("eztm_lines", "2, --level error")

    assert len(slack_server.requests) == 1
    assert report.invocation_result == "errors"
    message = assert_failure_logged(report, 2, "'slack'", "channel_not_found")
    assert message == "Notification 'slack' not sent: Slack answered HTTP 200: channel_not_found"


def test_slack_http_500_is_logged_on_the_report(run, handlers, slack_server):
    slack_server.answer_text("Internal Server Error", status=500)
    handlers(slack=slack(slack_server, level="ok"))
    report = run("eztm_lines", "3, --level warning")

    assert len(slack_server.requests) == 1
    assert report.invocation_result == "warnings"
    assert_failure_logged(report, 3, "'slack'", "HTTP 500", "Internal Server Error")


def test_slack_unreachable_is_logged_on_the_report(run, handlers, slack_server, closed_port):
    handlers(slack=slack(slack_server, base_url=f"http://127.0.0.1:{closed_port}/api/"))
    report = run("eztm_lines", "1, --level error")
    assert_failure_logged(report, 1, "'slack'", "refused")


def failed_report(make_task, reason: str, name: str = "nightly import") -> LaunchReport:
    """A failed run with ``reason``, as a worker leaves it, not yet notified."""
    report = factories.make_report(
        make_task("eztm_echo", "", name=name),
        invocation_result="failed",
        failure_reason=reason,
        duration=1.0,
    )
    return LaunchReport.objects.select_related("task").get(pk=report.pk)


def test_slack_long_reason_is_trimmed_to_slack_limits(make_task, handlers, slack_server):
    handlers(slack=slack(slack_server))
    emit_notifications(failed_report(make_task, "RuntimeError: " + "x" * 5000, name="x" * 255))

    [payload] = slack_server.payloads()
    assert len(payload["blocks"]) <= SLACK_MAX_BLOCKS
    assert all(len(text) <= SLACK_SECTION_TEXT_LIMIT for text in section_texts(payload))
    assert all(len(text) <= SLACK_FIELD_TEXT_LIMIT for text in field_texts(payload))
    assert len(payload["text"]) <= SLACK_SECTION_TEXT_LIMIT
    [reason] = [text for text in section_texts(payload) if text.startswith("*Failure:*")]
    assert reason.startswith("*Failure:* RuntimeError: xxx") and reason.endswith("x…")


def test_slack_reason_is_escaped_and_never_cut_in_an_escape(make_task, handlers, slack_server):
    handlers(slack=slack(slack_server))
    emit_notifications(failed_report(make_task, "<" * 4000 + "&"))

    [payload] = slack_server.payloads()
    [reason] = [text for text in section_texts(payload) if text.startswith("*Failure:*")]
    assert len(reason) <= SLACK_SECTION_TEXT_LIMIT
    assert "<<" not in reason
    assert html.unescape(reason.removeprefix("*Failure:* ").removesuffix("…")) == "<" * 499


def test_slack_message_without_the_log_viewer_url(run, handlers, slack_server, settings):
    settings.ROOT_URLCONF = NoLogViewerURLs
    handlers(slack=slack(slack_server))
    report = run("eztm_lines", "1, --level error")

    [payload] = slack_server.payloads()
    assert not any("live log" in text for text in section_texts(payload))
    assert report.n_lines == 1 and len(log_lines(report)) == 1


def test_link_follows_the_project_urls(run, handlers, slack_server, settings, mailoutbox):
    settings.ROOT_URLCONF = "tests.urls"
    settings.EZTASKMANAGER_BASE_URL = "https://tasks.example.com/"
    handlers(slack=slack(slack_server), mail=email())
    report = run("eztm_lines", "1, --level error")

    link = "https://tasks.example.com" + reverse("eztaskmanager:live_log_viewer", args=[report.pk])
    assert f"<{link}|Open the live log>" in section_texts(slack_server.payloads()[0])
    assert f"Live log:  {link}\n" in mailoutbox[0].body


def test_slack_webhook_variant(run, handlers, slack_server):
    handlers(
        hook={
            "class": SLACK_WEBHOOK,
            "webhook_url": f"http://127.0.0.1:{slack_server.server_port}/services/T0/B0/secret",
            "level": "errors",
        }
    )
    slack_server.answer_text("ok", status=200)
    report = run("eztm_lines", "1, --level error", name="hooked")

    [request] = slack_server.requests
    assert request["path"] == "/services/T0/B0/secret"
    assert "Authorization" not in request["headers"]
    payload = json.loads(request["body"])
    assert payload["text"] == "hooked: errors (1 error)"
    assert f"<{live_log_link(report)}|Open the live log>" in section_texts(payload)
    assert len(log_lines(report)) == 1


def test_slack_webhook_refused_is_logged_without_the_secret_url(run, handlers, slack_server):
    handlers(
        hook={
            "class": SLACK_WEBHOOK,
            "webhook_url": f"http://127.0.0.1:{slack_server.server_port}/services/T0/B0/secret",
            "level": "ok",
        }
    )
    slack_server.answer_text("no_service", status=404)
    report = run("eztm_lines", "1, --level error")

    message = assert_failure_logged(report, 1, "'hook'", "HTTP 404", "no_service")
    assert "secret" not in message


def test_slack_sdk_missing(run, handlers, slack_server, monkeypatch):
    monkeypatch.setitem(sys.modules, "slack_sdk", None)
    handlers(slack=slack(slack_server))

    ids = [message.id for message in run_checks() if message.id.startswith("eztaskmanager.")]
    assert ids == ["eztaskmanager.E014"]

    report = run("eztm_lines", "1, --level error")
    assert slack_server.requests == []
    assert_failure_logged(report, 1, "'slack'", "pip install 'django-eztaskmanager[slack]'")


# -- email ---------------------------------------------------------------------------------------


def test_email_has_subject_text_and_escaped_html(run, handlers, mailoutbox):
    handlers(mail=email(level="warnings"))
    report = run("eztm_echo", "<b>bold</b>", name="<script>alert(1)</script>")

    [message] = mailoutbox
    assert message.subject == "[eztaskmanager] <script>alert(1)</script>: warnings (5 warnings)"
    assert message.from_email == "tasks@example.com"
    assert message.to == ["ops@example.com", "dev@example.com"]

    text = message.body
    assert text.startswith("<script>alert(1)</script>: warnings (5 warnings)\n")
    assert "Result:    warnings\n" in text and "Warnings:  5\n" in text
    assert f"Live log:  {live_log_link(report)}\n" in text
    assert "Last warning: count=0 shout=False\n" in text

    [(html_body, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "<script>" not in html_body and "<b>bold" not in html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_body
    assert '<th align="left">Last warning</th><td>count=0 shout=False</td>' in html_body
    assert f'<a href="{live_log_link(report)}">' in html_body
    assert len(log_lines(report)) == 5


def test_email_subject_counts_errors_and_warnings(run, handlers, mailoutbox):
    handlers(mail=email(level="failed"))
    run("eztm_fail", "", name="nightly import")

    [message] = mailoutbox
    assert message.subject == "[eztaskmanager] nightly import: failed (1 error, 1 warning)"
    assert "Failure:   ValueError: boom\n" in message.body


def test_email_smtp_down_is_logged_on_the_report(run, handlers, settings, closed_port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port
    settings.EMAIL_TIMEOUT = 5
    handlers(mail=email(level="errors"))
    report = run("eztm_lines", "2, --level error")

    assert report.invocation_result == "errors"
    assert_failure_logged(report, 2, "'mail'", "ConnectionRefusedError")


# -- failures of any kind never reach the worker ------------------------------------------------


class ExplodingHandler(NotificationHandler):
    """A third-party handler with a bug."""

    def emit(self, report):
        raise RuntimeError("kaboom")


class DatabaseStateHandler(NotificationHandler):
    """Records what the database holds about the report when the handler is called."""

    seen: list = []

    def emit(self, report):
        stored = LaunchReport.objects.get(pk=report.pk)
        self.seen.append((stored.invocation_result, stored.finished_at is not None))


def test_failures_are_numbered_in_order_and_other_handlers_still_send(
    run, handlers, slack_server, mailoutbox
):
    slack_server.answer_text("Internal Server Error", status=500)
    handlers(
        slack=slack(slack_server),
        buggy={"class": f"{__name__}.ExplodingHandler", "level": "ok"},
        mail=email(),
    )
    report = run("eztm_lines", "2, --level warning")

    assert len(mailoutbox) == 1
    assert [(n, level) for n, level, _ in log_lines(report)][-2:] == [
        (3, "WARNING"),
        (4, "WARNING"),
    ]
    assert log_lines(report)[-1][2] == "Notification 'buggy' not sent: RuntimeError: kaboom"
    # The failures are written in one batch once every handler was tried.
    assert "not sent" not in mailoutbox[0].body
    fresh = LaunchReport.objects.get(pk=report.pk)
    assert (fresh.invocation_result, fresh.n_warnings, fresh.n_lines) == ("warnings", 2, 4)


def test_a_misconfigured_handler_is_logged_at_run_time(run, handlers):
    handlers(bad={"class": SLACK, "token": TOKEN, "channel": "#ops", "level": "sometimes"})
    report = run("eztm_lines", "1, --level error")
    assert_failure_logged(report, 1, "'bad'", "cannot be built", "'sometimes'")


def test_notifications_see_the_saved_report(run, handlers):
    DatabaseStateHandler.seen = []
    handlers(probe={"class": f"{__name__}.DatabaseStateHandler", "level": "ok"})
    run("eztm_lines", "1, --level error")
    assert DatabaseStateHandler.seen == [("errors", True)]


# -- levels --------------------------------------------------------------------------------------

RUNS = {  # result -> command and arguments giving it
    "ok": ("eztm_lines", "1"),
    "warnings": ("eztm_lines", "1, --level warning"),
    "errors": ("eztm_lines", "1, --level error"),
    "failed": ("eztm_fail", ""),
}
SENT = {  # handler level -> results it sends
    "ok": {"ok", "warnings", "errors", "failed"},
    "warnings": {"warnings", "errors", "failed"},
    "errors": {"errors", "failed"},
    "failed": {"failed"},
}


@pytest.mark.parametrize("level", list(SENT))
@pytest.mark.parametrize("result", list(RUNS))
def test_level_matrix(run, handlers, mailoutbox, result, level):
    handlers(mail=email(level=level))
    report = run(*RUNS[result])
    assert report.invocation_result == result
    assert len(mailoutbox) == (1 if result in SENT[level] else 0)


def test_task_override_off_sends_nothing(run, handlers, mailoutbox, slack_server):
    handlers(mail=email(level="ok"), slack=slack(slack_server, level="ok"))
    run(*RUNS["failed"], notification_level="off")
    assert mailoutbox == [] and slack_server.requests == []


def test_task_override_raises_every_handler_level(run, handlers, mailoutbox, slack_server):
    handlers(mail=email(level="ok"), slack=slack(slack_server, level="ok"))
    run(*RUNS["errors"], notification_level="failed")
    assert mailoutbox == [] and slack_server.requests == []
    run(*RUNS["failed"], notification_level="failed")
    assert len(mailoutbox) == 1 and len(slack_server.requests) == 1


def test_task_override_lowers_every_handler_level(run, handlers, mailoutbox, slack_server):
    handlers(mail=email(level="failed"), slack=slack(slack_server, level="errors"))
    run(*RUNS["ok"], notification_level="ok")
    assert len(mailoutbox) == 1 and len(slack_server.requests) == 1
    run(*RUNS["ok"])  # the same result, as configured: nothing
    assert len(mailoutbox) == 1 and len(slack_server.requests) == 1


# -- system check --------------------------------------------------------------------------------


def eztm_messages() -> list[tuple[str, str]]:
    return [(m.id, m.msg) for m in run_checks() if m.id.startswith("eztaskmanager.")]


def test_check_accepts_a_good_configuration(handlers):
    handlers(
        slack={"class": SLACK, "token": TOKEN, "channel": "#ops", "level": "errors"},
        hook={"class": SLACK_WEBHOOK, "webhook_url": "https://hooks.example.com/x", "level": "ok"},
        mail=email(level="failed"),
    )
    assert eztm_messages() == []


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            {"class": "no.such.Handler", "level": "errors"},
            ("eztaskmanager.E011", "cannot import 'no.such.Handler'"),
        ),
        (
            {"class": "eztaskmanager.models.Task", "level": "errors"},
            ("eztaskmanager.E011", "is not a subclass of NotificationHandler"),
        ),
        ({"level": "errors"}, ("eztaskmanager.E011", "has no 'class'")),
        (
            {"class": SLACK, "token": TOKEN, "channel": "#ops", "level": "sometimes"},
            ("eztaskmanager.E012", "unknown level 'sometimes'"),
        ),
        (
            {"class": SLACK, "token": TOKEN, "channel": "#ops"},
            ("eztaskmanager.E012", "has no 'level'"),
        ),
        ({"class": SLACK, "channel": "#ops", "level": "errors"}, ("eztaskmanager.E013", "'token'")),
        (
            {"class": SLACK, "token": "", "channel": "#ops", "level": "errors"},
            ("eztaskmanager.E013", "'token' is empty"),
        ),
        (
            {"class": SLACK, "token": TOKEN, "chanel": "#ops", "level": "errors"},
            ("eztaskmanager.E013", "has no 'channel'"),
        ),
        (
            {"class": EMAIL, "from_email": None, "level": "ok"},
            ("eztaskmanager.E013", "'recipients'"),
        ),
        (
            {"class": EMAIL, "from_email": None, "recipients": [], "level": "ok"},
            ("eztaskmanager.E013", "'recipients' is empty"),
        ),
        (
            {"class": EMAIL, "from_email": None, "recipients": "ops@example.com", "level": "ok"},
            ("eztaskmanager.E013", "must be a list"),
        ),
        ("not a dict", ("eztaskmanager.E010", "must be a dict")),
    ],
)
def test_check_reports_a_bad_handler(handlers, spec, expected):
    handlers(broken=spec)
    code, words = expected
    found = eztm_messages()
    assert any(id_ == code and words in msg for id_, msg in found), found
    assert all("EZTASKMANAGER_NOTIFICATION_HANDLERS['broken']" in msg for _, msg in found)


def test_check_reports_an_unexpected_option(handlers):
    handlers(slack={"class": SLACK, "token": TOKEN, "channel": "#ops", "level": "ok", "colour": 1})
    assert eztm_messages() == [
        (
            "eztaskmanager.E013",
            "EZTASKMANAGER_NOTIFICATION_HANDLERS['slack']: unexpected option 'colour' for "
            "SlackNotificationHandler.",
        )
    ]


def test_check_setting_must_be_a_dict(settings):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = [("slack", {})]
    assert [code for code, _ in eztm_messages()] == ["eztaskmanager.E010"]


def test_check_warns_when_links_cannot_be_built(handlers, settings):
    settings.EZTASKMANAGER_BASE_URL = ""
    handlers(mail=email())
    assert [code for code, _ in eztm_messages()] == ["eztaskmanager.W010"]


def test_manage_py_check_fails_on_bad_handlers(handlers):
    handlers(
        unknown={"class": "no.such.Handler", "level": "errors"},
        slack={"class": SLACK, "channel": "#ops", "level": "often"},
    )
    with pytest.raises(SystemCheckError) as failure:
        call_command("check")
    text = str(failure.value)
    assert "eztaskmanager.E011" in text and "no.such.Handler" in text
    assert "eztaskmanager.E012" in text and "'often'" in text
    assert "eztaskmanager.E013" in text and "has no 'token'" in text


def test_a_changed_setting_applies_to_the_next_run_in_the_same_process(
    make_task, handlers, mailoutbox
):
    """The handlers are built from the setting at the end of each run: nothing built at
    import or by a worker's warm-up is kept, so the next run in the same process (a worker
    that did not restart) uses the setting as it is then."""
    from eztaskmanager.worker.warmup import warm_up

    task = make_task("eztm_echo", name="nightly")
    handlers(mail=email(level="warnings", recipients=["first@example.com"]))
    warm_up()  # what a TaskWorker does when it starts
    operations.launch(task, defer=False)
    assert [m.to for m in mailoutbox] == [["first@example.com"]]

    handlers(mail=email(level="warnings", recipients=["second@example.com"]))
    operations.launch(task, defer=False)
    assert [m.to for m in mailoutbox][1:] == [["second@example.com"]]

    handlers(mail=email(level="errors", recipients=["second@example.com"]))
    operations.launch(task, defer=False)  # warnings: below the new level
    handlers()
    operations.launch(task, defer=False)
    assert len(mailoutbox) == 2


# -- what a message says of a failure or a stop ----------------------------------------------------

SERVER_TRACES = ("Traceback", 'File "', '.py"', "site-packages", "/eztaskmanager/runs")


def assert_no_server_traces(*bodies: str) -> None:
    for body in bodies:
        for trace in SERVER_TRACES:
            assert trace not in body, (trace, body)


@pytest.mark.parametrize(
    "how, reason",
    [("exception", "ValueError: boom"), ("commanderror", "CommandError: bad input given")],
)
def test_a_failure_says_its_reason_and_links_to_the_log_without_traceback(
    run, handlers, slack_server, mailoutbox, how, reason
):
    handlers(mail=email(level="failed"), slack=slack(slack_server, level="failed"))
    report = run("eztm_fail", f"--how {how}", name="nightly import")
    assert report.invocation_result == "failed"
    assert "Traceback" in "\n".join(m for _, _, m in log_lines(report))  # kept in the log

    [message] = mailoutbox
    [(html_body, _)] = message.alternatives
    [payload] = slack_server.payloads()
    slack_body = json.dumps(payload)
    assert_no_server_traces(message.body, html_body, slack_body)
    assert f"Failure:   {reason}\n" in message.body
    assert f"Live log:  {live_log_link(report)}\n" in message.body
    assert f'<a href="{live_log_link(report)}">' in html_body
    assert f"*Failure:* {reason}" in section_texts(payload)
    assert f"<{live_log_link(report)}|Open the live log>" in section_texts(payload)


def test_server_paths_are_left_out_of_the_reason(make_task, handlers, slack_server, mailoutbox):
    handlers(mail=email(), slack=slack(slack_server))
    reason = (
        "FileNotFoundError: [Errno 2] No such file or directory: "
        "'/srv/app/.venv/lib/python3.12/site-packages/x/data.py'\nTraceback: more"
    )
    emit_notifications(failed_report(make_task, reason))
    [message] = mailoutbox
    assert_no_server_traces(message.body, json.dumps(slack_server.payloads()))
    assert "Failure:   FileNotFoundError: [Errno 2] No such file or directory: '…'\n" in (
        message.body
    )


def test_a_stop_is_reported_as_a_stop(make_task, handlers, slack_server, mailoutbox):

    handlers(mail=email(level="failed"), slack=slack(slack_server, level="failed"))
    task = make_task("eztm_echo", "", name="nightly import")
    report = factories.running_report(task, heartbeat=False, record=True)
    user = factories.make_staff(username="alice")
    assert operations.stop_run(report, "alice", user=user)

    [message] = mailoutbox
    assert message.subject == "[eztaskmanager] nightly import: stopped by alice"
    assert "Result:    stopped (stopped by alice)\n" in message.body
    assert "failed" not in message.body and "Failure" not in message.body
    assert f"Live log:  {live_log_link(report)}\n" in message.body
    [payload] = slack_server.payloads()
    assert payload["text"] == "nightly import: stopped by alice"
    assert section_texts(payload)[0] == ":octagonal_sign: *nightly import* was stopped by alice"
    assert "*Result*\nstopped" in field_texts(payload)
    assert "failed" not in json.dumps(payload)


def test_a_stop_reaches_only_the_handlers_that_send_failures(make_task, handlers, mailoutbox):
    # The one rule: a stopped run's result is failed, so it reaches every handler whose level
    # is failed or milder (all levels), unless the task turns its notifications off.

    handlers(mail=email(level="failed"))
    task = make_task("eztm_echo", "", name="quiet", notification_level="off")
    report = factories.running_report(task, heartbeat=False)
    operations.stop_run(report, "bob")
    assert mailoutbox == []
