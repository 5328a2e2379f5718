"""The audit trail: what was done to a task, and by whom, in Django's admin history.

Each launch, stop, schedule change and command or arguments change is a ``LogEntry`` on the task,
shown by the task's *History* page. A person acts as their own user. Processes that act without
a person act as a named actor: an inactive user called ``eztaskmanager-<name>`` (``-scheduler``,
``-cli``), created on first use, with no usable password, so it can never log in. The command
line acts as the operator's user when one is named (``--user``), otherwise as the ``cli`` actor
with the login name of the shell user in the message.
"""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

ACTOR_PREFIX = "eztaskmanager-"
SCHEDULER = "scheduler"
CLI = "cli"
FLAGS = {"add": ADDITION, "change": CHANGE, "delete": DELETION}
# LogEntry.object_repr is a 200-character column.
REPR_LENGTH = 200


def actor(name: str):
    """The user standing for process ``name`` (``scheduler``, ``cli``), created on first use."""
    model = get_user_model()
    username = f"{ACTOR_PREFIX}{name}"
    user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None:
        user = model(**{model.USERNAME_FIELD: username})
        user.is_active = False
        user.set_unusable_password()
        user.save()
    return user


def operator(username: str | None):
    """The user named ``username`` for the command line, or the ``cli`` actor when None.

    Raises ``LookupError`` for a name that is not an active user: a mistyped name must not
    be recorded as somebody else.
    """
    if not username:
        return actor(CLI)
    model = get_user_model()
    user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None or not user.is_active:
        raise LookupError(f"No active user named {username!r}.")
    return user


def record(task, user, message: str, kind: str = "change") -> LogEntry:
    """Add ``message`` to the history of ``task`` as done by ``user``; return the entry."""
    return LogEntry.objects.create(
        user_id=user.pk,
        content_type_id=ContentType.objects.get_for_model(task, for_concrete_model=False).pk,
        object_id=str(task.pk),
        object_repr=str(task)[:REPR_LENGTH],
        action_flag=FLAGS[kind],
        change_message=message,
    )


def history(task) -> list[LogEntry]:
    """The entries recorded on ``task``, oldest first."""
    content_type = ContentType.objects.get_for_model(task, for_concrete_model=False)
    return list(
        LogEntry.objects.filter(content_type=content_type, object_id=str(task.pk))
        .select_related("user")
        .order_by("action_time", "pk")
    )


def run_change(before: dict, after: dict) -> str:
    """``"Command changed from 'a' to 'b'; ..."`` for the run fields that differ, or ""."""
    parts = [
        f"{label} changed from {before.get(key)!r} to {after.get(key)!r}"
        for key, label in (("command", "Command"), ("arguments", "Arguments"))
        if before.get(key) != after.get(key)
    ]
    return "; ".join(parts) + "." if parts else ""
