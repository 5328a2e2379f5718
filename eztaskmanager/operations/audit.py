"""The audit trail: what was done to a task, and by whom, in Django's admin history.

Each launch, stop, schedule change and change of what a task runs is a ``LogEntry`` on the
task, shown by the task's *History* page. The history is for people: no decision reads it (see
``authorisation``). A person acts as their own user. Processes that act without a person act as
an *internal actor*: an inactive user with no usable password, created on first use and named
``eztaskmanager-<name>`` (``-scheduler``, ``-cli``), that an ``InternalActor`` row marks as the
package's own. Only code creates those rows, so a user that somebody creates with such a name
is an ordinary user: ``actor()`` never takes it, it picks a free name instead. The command line
acts as the operator's user when one is named (``--user``), otherwise as the ``cli`` actor with
the login name of the shell user in the message.
"""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

ACTOR_PREFIX = "eztaskmanager-"
SCHEDULER = "scheduler"
CLI = "cli"
API = "api"
FLAGS = {"add": ADDITION, "change": CHANGE, "delete": DELETION}
# LogEntry.object_repr is a 200-character column.
REPR_LENGTH = 200


def actor(name: str):
    """The user standing for process ``name`` (``scheduler``, ``cli``), created on first use."""
    from eztaskmanager.models import InternalActor

    found = InternalActor.objects.select_related("user").filter(name=name).first()
    if found is not None:
        return found.user
    model = get_user_model()
    taken = model._default_manager.filter(
        **{f"{model.USERNAME_FIELD}__startswith": f"{ACTOR_PREFIX}{name}"}
    ).values_list(model.USERNAME_FIELD, flat=True)
    username = free_name(f"{ACTOR_PREFIX}{name}", set(taken))
    try:
        with transaction.atomic():
            user = model(**{model.USERNAME_FIELD: username})
            user.is_active = False
            user.set_unusable_password()
            user.save()
            InternalActor.objects.create(name=name, user=user)
    except IntegrityError:  # another process created it meanwhile
        return InternalActor.objects.select_related("user").get(name=name).user
    return user


def free_name(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``...: the first one not in ``taken``."""
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def is_internal(user) -> bool:
    """Whether ``user`` is one of the package's own actors (an ``InternalActor`` row says so)."""
    from eztaskmanager.models import InternalActor

    if user is None or not getattr(user, "pk", None):
        return False
    return InternalActor.objects.filter(user_id=user.pk).exists()


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


RUN_LABELS = (
    ("command", "Command"),
    ("arguments", "Arguments"),
    ("legacy_arguments", "0.5.x argument rule"),
    ("queue", "Queue"),
    ("max_retries", "Retries"),
    ("retry_delays", "Retry delays"),
    ("retry_exponential", "Exponential backoff"),
)


def run_change(before: dict, after: dict) -> str:
    """``"Command changed from 'a' to 'b'; ..."`` for the run fields that differ, or ""."""
    parts = [
        f"{label} changed from {before.get(key)!r} to {after.get(key)!r}"
        for key, label in RUN_LABELS
        if key in before and key in after and before.get(key) != after.get(key)
    ]
    return "; ".join(parts) + "." if parts else ""


def run_values(task) -> dict:
    """The run fields of ``task`` as ``run_change`` compares them (the command by name)."""
    values = {key: getattr(task, key, None) for key, _label in RUN_LABELS if key != "command"}
    values["command"] = task.command.name if task.command_id else None
    return values
