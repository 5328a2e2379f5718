"""Notifications sent when a run ends: Slack and email, chosen by the run's result.

``EZTASKMANAGER_NOTIFICATION_HANDLERS`` maps a name to ``{"class": "dotted.path", "level":
"errors", ...keyword arguments}``. The handlers are built from the setting each time a report is
notified, so ``override_settings`` and a changed setting apply at once; ``manage.py check``
validates the setting (see ``eztaskmanager.checks``).

A handler sends a report whose result is at or above its level (ok < warnings < errors <
failed). ``Task.notification_level`` overrides that level for one task, or turns its
notifications off. A handler that fails leaves a WARNING line in the report's log; it never
changes the run's result and never raises into the worker.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from eztaskmanager import conf
from eztaskmanager.core.dates import local_text
from eztaskmanager.models import LaunchReport, Log

logger = logging.getLogger(__name__)

LEVELS = LaunchReport.RESULT_LEVELS  # the one severity order, mildest first


def level_name(value) -> str | None:
    """The level ``value`` names (``ok``, ``warnings``, ``errors``, ``failed``), or None."""
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in LEVELS else None


# Slack's documented limits for one message.
SLACK_SECTION_TEXT_LIMIT = 3000
SLACK_FIELD_TEXT_LIMIT = 2000
SLACK_MAX_BLOCKS = 50

SLACK_SDK_MISSING = (
    "{handler} needs the slack-sdk package: pip install 'django-eztaskmanager[slack]'."
)

RESULT_EMOJI = {
    "ok": ":white_check_mark:",
    "warnings": ":warning:",
    "errors": ":x:",
    "failed": ":rotating_light:",
    "stopped": ":octagonal_sign:",
}


class NotificationError(Exception):
    """A message was not delivered; the text says why, in words fit for the report's log."""


def reaches(result: str, level: str) -> bool:
    """Whether a run with ``result`` is worth a notification at ``level``."""
    return result in LEVELS and level in LEVELS and LEVELS.index(result) >= LEVELS.index(level)


class NotificationHandler(ABC):
    """Base class: decides whether a report is worth sending, and sends it.

    Subclasses implement ``emit(report)``, raising on failure; the keyword arguments of their
    ``__init__`` are the options of their entry in the setting. Options named in
    ``required_options`` must be present and not empty, and ``check_options`` can add checks of
    its own for ``manage.py check``.
    """

    required_options: tuple[str, ...] = ()
    # Reads a configured level into its name (None: no such level). ``compat.levels`` puts
    # 0.5.x's reading in its place when the app is ready (``apps.py``): its spellings
    # ("failure") and integers stand for the level they meant.
    read_level = staticmethod(level_name)

    def __init__(self, level: str):
        name = self.read_level(level)
        if name is None:
            raise ImproperlyConfigured(
                f"Unknown notification level {level!r}; use one of {', '.join(LEVELS)}."
            )
        self.level = name

    def wants(self, report, level: str | None = None) -> bool:
        """Whether ``report`` is to be sent, at ``level`` if given, else at the handler's own."""
        return reaches(report.invocation_result, level or self.level)

    def handle(self, report, level: str | None = None) -> None:
        if self.wants(report, level):
            self.emit(report)

    @abstractmethod
    def emit(self, report) -> None:
        """Send ``report``; raise (preferably ``NotificationError``) if it cannot be sent."""

    def alert(self, subject: str, text: str) -> bool:
        """Send an alert that is not about one run (a task overdue, then recovered).

        Returns whether it was sent; a failure is logged, never raised. Subclasses implement
        ``emit_alert``; a handler that does not has nothing to send.
        """
        try:
            return self.emit_alert(subject, text) is not False
        except Exception as exc:
            logger.warning(
                "Alert %r not sent by %s: %s", subject, type(self).__name__, _describe(exc)
            )
            return False

    def emit_alert(self, subject: str, text: str) -> bool | None:
        """Send an alert; raise if it cannot be sent; return False if this handler has none."""
        return False

    @classmethod
    def check_options(cls, name: str, options: dict[str, Any]) -> list[CheckMessage]:
        """Problems of this handler's options beyond presence and level, for the system check."""
        return []


# -- what a message says ----------------------------------------------------------------------


def log_url(report) -> str:
    """Absolute URL of the report's live log, or "" when the URL is not configured."""
    try:
        path = reverse("eztaskmanager:live_log_viewer", args=[report.pk])
    except NoReverseMatch:
        return ""
    # 0.5.x's default for the setting was None.
    return (conf.get("BASE_URL") or "").rstrip("/") + path


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(report) -> str:
    """One line: task name, result and counts, e.g. ``nightly import: errors (3 errors)``."""
    by = stopped_by(report)
    if by:
        return f"{report.task.name}: stopped by {by}"
    counts = []
    if report.n_errors:
        counts.append(_count(report.n_errors, "error"))
    if report.n_warnings:
        counts.append(_count(report.n_warnings, "warning"))
    text = f"{report.task.name}: {report.invocation_result}"
    if counts:
        text += f" ({', '.join(counts)})"
    return text


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def format_time(value) -> str:
    return local_text(value, none="unknown")


# An absolute file path of the server (two or more parts), not the path of a URL.
SERVER_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s/'\"]+/)+[^\s/'\"]*")
REASON_LIMIT = 500
REASON_LABELS = {
    LaunchReport.RESULT_FAILED: "Failure",
    LaunchReport.RESULT_ERRORS: "Last error",
    LaunchReport.RESULT_WARNINGS: "Last warning",
}


def stopped_by(report) -> str:
    """Who stopped the run (its report ends "stopped by <who>"), or "" when it was not stopped."""
    reason = report.failure_reason or ""
    if report.invocation_result == LaunchReport.RESULT_FAILED and reason.startswith("stopped by "):
        return reason.removeprefix("stopped by ").strip() or "?"
    return ""


def reason_line(report) -> str:
    """Why the run ended as it did, in one line with no server paths: the failure reason, else
    the last error line (the last warning line for a run with warnings). The traceback stays
    in the log, behind the admin's permissions."""
    text = report.failure_reason or ""
    if not text and report.invocation_result in (
        LaunchReport.RESULT_ERRORS,
        LaunchReport.RESULT_WARNINGS,
    ):
        levels = Log.ERROR_LEVELS
        if report.invocation_result == LaunchReport.RESULT_WARNINGS:
            levels = ("WARNING",)
        last = report.logs.filter(level__in=levels).order_by("-lineno").first()
        text = last.message if last is not None else ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = SERVER_PATH.sub("…", lines[0]) if lines else ""
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


def message_context(report) -> dict[str, Any]:
    """What every message shows about a report (plain values, not yet escaped).

    No log lines beyond the one reason line: a traceback and the server's file paths stay in
    the log, which the link opens for who may read it.
    """
    by = stopped_by(report)
    return {
        "task_name": report.task.name,
        "result": "stopped" if by else report.invocation_result,
        "stopped_by": by,
        "summary": summary(report),
        "n_errors": report.n_errors,
        "n_warnings": report.n_warnings,
        "started": format_time(report.started_at),
        "duration": format_duration(report.duration),
        "failure_reason": "" if by else reason_line(report) if report.failure_reason else "",
        "reason": reason_line(report),
        "reason_label": REASON_LABELS.get(report.invocation_result, ""),
        "log_url": log_url(report),
    }


# -- Slack ------------------------------------------------------------------------------------

SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_TRANSLATION = str.maketrans(SLACK_ESCAPES)


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives a meaning to."""
    return text.translate(_SLACK_TRANSLATION)


def slack_text(text: str, limit: int, keep: str = "start") -> str:
    """``text`` escaped for mrkdwn and cut to ``limit`` characters, never inside an entity.

    ``keep="end"`` keeps the last characters (the end of a log matters most).
    """
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    marker = "…"
    room = limit - len(marker)
    chars = reversed(text) if keep == "end" else iter(text)
    pieces, size = [], 0
    for char in chars:
        piece = SLACK_ESCAPES.get(char, char)
        if size + len(piece) > room:
            break
        pieces.append(piece)
        size += len(piece)
    if keep == "end":
        return marker + "".join(reversed(pieces))
    return "".join(pieces) + marker


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _field(title: str, value: str) -> dict:
    return {"type": "mrkdwn", "text": slack_text(f"*{title}*\n{value}", SLACK_FIELD_TEXT_LIMIT)}


def slack_message(report) -> dict[str, Any]:
    """The Slack message of a report: ``text`` (the fallback) and ``blocks``."""
    context = message_context(report)
    emoji = RESULT_EMOJI.get(context["result"], "")
    name = slack_text(context["task_name"], 1000)
    if context["stopped_by"]:
        by = slack_text(context["stopped_by"], 300)
        head = f"{emoji} *{name}* was stopped by {by}"
    else:
        head = f"{emoji} *{name}* ended with *{context['result']}*"
    blocks = [
        _section(head),
        {
            "type": "section",
            "fields": [
                _field("Result", context["result"]),
                _field("Errors", str(context["n_errors"])),
                _field("Warnings", str(context["n_warnings"])),
                _field("Duration", context["duration"]),
                _field("Started", context["started"]),
            ],
        },
    ]
    if context["reason"] and not context["stopped_by"]:
        label = f"*{context['reason_label']}:* "
        reason = slack_text(context["reason"], SLACK_SECTION_TEXT_LIMIT - len(label))
        blocks.append(_section(label + reason))
    url = context["log_url"]
    if url.startswith(("http://", "https://")):
        blocks.append(_section(f"<{url}|Open the live log>"))
    elif url:
        blocks.append(_section(f"Live log: {slack_escape(url)}"))
    return {
        "text": slack_text(context["summary"], SLACK_SECTION_TEXT_LIMIT),
        "blocks": blocks[:SLACK_MAX_BLOCKS],
    }


def slack_alert(subject: str, text: str) -> dict[str, Any]:
    """A Slack message for an alert: its subject in bold, then its text."""
    title = slack_text(subject, 300)
    body = slack_text(text, SLACK_SECTION_TEXT_LIMIT - len(title) - 3)
    return {"text": title, "blocks": [_section(f"*{title}*\n{body}")]}


def slack_sdk_installed() -> bool:
    try:
        import slack_sdk  # noqa: F401
    except ImportError:
        return False
    return True


class SlackHandlerBase(NotificationHandler):
    """What both Slack handlers share: the message of a report or an alert, the check that
    slack-sdk is installed; each posts with ``emit_message`` its own way."""

    def message(self, report) -> dict[str, Any]:
        return slack_message(report)

    def emit(self, report) -> None:
        self.emit_message(self.message(report))

    def emit_alert(self, subject: str, text: str) -> None:
        self.emit_message(slack_alert(subject, text))

    def emit_message(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    @classmethod
    def check_options(cls, name: str, options: dict[str, Any]) -> list[CheckMessage]:
        if slack_sdk_installed():
            return []
        return [
            Error(
                f"EZTASKMANAGER_NOTIFICATION_HANDLERS[{name!r}]: "
                + SLACK_SDK_MISSING.format(handler=cls.__name__),
                id="eztaskmanager.E014",
            )
        ]


class SlackNotificationHandler(SlackHandlerBase):
    """Posts to a channel with the Web API (``chat.postMessage``) using a bot token.

    ``base_url`` replaces ``https://slack.com/api/``, for a proxy or a test server.
    """

    required_options = ("token", "channel")

    def __init__(self, token: str, channel: str, level: str, base_url: str | None = None):
        super().__init__(level)
        if not token or not channel:
            raise ImproperlyConfigured("SlackNotificationHandler needs a token and a channel.")
        try:
            from slack_sdk import WebClient
        except ImportError as exc:
            raise ImproperlyConfigured(
                SLACK_SDK_MISSING.format(handler="SlackNotificationHandler")
            ) from exc
        self.channel = channel
        extra = {"base_url": base_url} if base_url else {}
        self.client = WebClient(token=token, **extra)

    def emit_message(self, message: dict[str, Any]) -> None:
        from slack_sdk.errors import SlackApiError

        try:
            self.client.chat_postMessage(channel=self.channel, **message)
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if isinstance(response.data, dict) else None
            reason = f"Slack answered HTTP {response.status_code}"
            if error:
                reason += f": {str(error)[:200]}"
            raise NotificationError(reason) from exc


class SlackWebhookNotificationHandler(SlackHandlerBase):
    """Posts to the channel of an incoming-webhook URL (no token needed)."""

    required_options = ("webhook_url",)

    def __init__(self, webhook_url: str, level: str):
        super().__init__(level)
        if not webhook_url:
            raise ImproperlyConfigured("SlackWebhookNotificationHandler needs a webhook_url.")
        try:
            from slack_sdk.webhook import WebhookClient
        except ImportError as exc:
            raise ImproperlyConfigured(
                SLACK_SDK_MISSING.format(handler="SlackWebhookNotificationHandler")
            ) from exc
        self.client = WebhookClient(webhook_url)

    def emit_message(self, message: dict[str, Any]) -> None:
        response = self.client.send(**message)
        if response.status_code != 200:
            # The URL is a secret: say what Slack answered, not where.
            body = (response.body or "").strip()[:200]
            raise NotificationError(f"Slack webhook answered HTTP {response.status_code}: {body}")


# -- email ------------------------------------------------------------------------------------


class EmailNotificationHandler(NotificationHandler):
    """Sends a plain-text and HTML email with Django's mail framework (``EMAIL_*`` settings).

    ``from_email`` may be None for ``DEFAULT_FROM_EMAIL``.
    """

    required_options = ("recipients",)
    subject_prefix = "[eztaskmanager] "
    text_template = "eztaskmanager/notifications/email.txt"
    html_template = "eztaskmanager/notifications/email.html"

    def __init__(self, from_email: str | None, recipients: list[str], level: str):
        super().__init__(level)
        if not recipients or isinstance(recipients, str):
            raise ImproperlyConfigured(
                "EmailNotificationHandler needs recipients as a list of addresses."
            )
        self.from_email = from_email
        self.recipients = list(recipients)

    def subject(self, report) -> str:
        # A header must be one line, whatever the task's name holds.
        return " ".join((self.subject_prefix + summary(report)).split())

    def emit(self, report) -> None:
        from django.core.mail import EmailMultiAlternatives

        context = message_context(report)
        email = EmailMultiAlternatives(
            subject=self.subject(report),
            body=render_to_string(self.text_template, context),
            from_email=self.from_email,
            to=self.recipients,
        )
        email.attach_alternative(render_to_string(self.html_template, context), "text/html")
        email.send()

    def emit_alert(self, subject: str, text: str) -> None:
        send_mail(
            subject=" ".join((self.subject_prefix + subject).split()),
            message=text,
            from_email=self.from_email,
            recipient_list=self.recipients,
        )

    @classmethod
    def check_options(cls, name: str, options: dict[str, Any]) -> list[CheckMessage]:
        recipients = options.get("recipients")
        if recipients and (
            isinstance(recipients, str) or not all(isinstance(r, str) for r in recipients)
        ):
            return [
                Error(
                    f"EZTASKMANAGER_NOTIFICATION_HANDLERS[{name!r}]: 'recipients' must be a list "
                    "of email addresses.",
                    id="eztaskmanager.E013",
                )
            ]
        return []


# -- sending ----------------------------------------------------------------------------------


def handler_options(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split one entry of the setting into its class path and keyword arguments."""
    options = dict(spec)
    return options.pop("class", ""), options


def build_handler(spec: dict[str, Any]) -> NotificationHandler:
    """Instantiate the handler described by one entry of the setting."""
    path, options = handler_options(spec)
    handler_class = import_string(path)
    return handler_class(**options)


def failure_line(report, name: str, reason: str) -> tuple[str, str, bool]:
    """The WARNING line about handler ``name`` for the report's log.

    The line is counted in ``n_lines`` (readers page by it) but not in ``n_warnings``: the
    counters describe the command's own output and, with it, the run's result.
    """
    message = f"Notification {name!r} not sent: {reason}"
    logger.warning("Report %s: %s", report.pk, message)
    return ("WARNING", message, False)


def emit_notifications(report, notes: list | None = None) -> None:
    """Send a finished ``report`` to every configured handler that wants it; never raise.

    The handlers that failed are said in the report's log, in one write after all were tried,
    or added to ``notes`` for the caller to write with its own.
    """
    try:
        override = report.task.notification_level
        if not report.invocation_result or override == "off":
            return
        config = conf.get("NOTIFICATION_HANDLERS") or {}
        entries = list(config.items())
    except Exception:
        logger.exception("Report %s: notifications skipped", report.pk)
        return
    failures = []
    for name, spec in entries:
        try:
            handler = build_handler(spec)
        except Exception as exc:
            failures.append(
                failure_line(report, name, f"the handler cannot be built: {_describe(exc)}")
            )
            continue
        try:
            handler.handle(report, level=override or None)
        except Exception as exc:
            failures.append(failure_line(report, name, _describe(exc)))
    if notes is not None:
        notes.extend(failures)
        return
    try:
        report.append_lines(failures)
    except Exception:
        logger.exception("Report %s: the notification failures could not be logged", report.pk)


def send_alert(subject: str, text: str) -> int:
    """Send an alert to every configured handler; return how many sent it. Never raises."""
    try:
        entries = list((conf.get("NOTIFICATION_HANDLERS") or {}).items())
    except Exception:
        logger.exception("Alert %r not sent: the handlers cannot be read", subject)
        return 0
    sent = 0
    for name, spec in entries:
        try:
            handler = build_handler(spec)
        except Exception as exc:
            logger.warning("Alert %r not sent by %r: %s", subject, name, _describe(exc))
            continue
        sent += handler.alert(subject, text)
    return sent


def _describe(exc: Exception) -> str:
    if isinstance(exc, NotificationError | ImproperlyConfigured):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "LEVELS",
    "EmailNotificationHandler",
    "NotificationError",
    "NotificationHandler",
    "SlackNotificationHandler",
    "SlackWebhookNotificationHandler",
    "emit_notifications",
    "send_alert",
    "log_url",
    "message_context",
    "summary",
]
