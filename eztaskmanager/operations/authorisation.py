"""Who may decide what a task runs, kept as fields of the task.

What a run does is decided by the task's *run fields* (``RUN_FIELDS``): its command, its
arguments and their rule, its queue, its retries and their delays. Starting runs takes the
launch permission (``permissions.LAUNCH_PERMISSION``); so does deciding what they run. When
somebody without that permission changes a run field (or creates a task), the task is *held*:
``Task.held_since`` says since when and ``Task.held_by`` by whom. A held task is not scheduled,
and follow-ups do not launch it, until somebody who may launch tasks approves it: by changing
a run field themselves, by saving the task unchanged, or by launching it as it stands (not once
with other arguments). ``Task.approved_by`` and ``Task.approved_at`` say who did, and when.

These fields are the only input of the decision. The admin history (``audit``) tells people
what happened; deleting it, or reading it in another language, changes nothing here. The
package's own processes (the command line, tasks-as-code, code calling ``operations``) act for
the operators who run them and may approve; a follow-up launch never approves anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from eztaskmanager.core import permissions
from eztaskmanager.models import Task
from eztaskmanager.operations import audit

RUN_FIELDS = permissions.RUN_FIELDS


def may_approve(user) -> bool:
    """Whether ``user`` may decide what tasks run: a person with the launch permission, one of
    the package's own actors, or code (``None``)."""
    return user is None or audit.is_internal(user) or permissions.may_launch(user)


def changes_what_runs(changed: Iterable[str]) -> bool:
    return bool(RUN_FIELDS & set(changed))


def is_held(task: Task) -> bool:
    """Whether what ``task`` runs waits for somebody who may launch tasks."""
    return task.held_since is not None


def held_by(task: Task) -> str | None:
    """Who changed what ``task`` runs without the permission, while it is held; else None."""
    if task.held_since is None:
        return None
    return task.held_by or "?"


def hold(task: Task, user) -> None:
    """``user`` (who may not launch tasks) changed what ``task`` runs: hold it."""
    values = {"held_by": user.get_username()[:150]}
    if task.held_since is None:
        values["held_since"] = timezone.now()
    _set(task, **values)


def approve(task: Task, user) -> None:
    """``user`` (who may) approves what ``task`` runs as it stands now."""
    if user is None or not getattr(user, "pk", None):
        user = audit.actor(audit.API)
    _set(task, held_since=None, held_by="", approved_by=user, approved_at=timezone.now())


def changed(task: Task, user, fields: Iterable[str]) -> bool | None:
    """After ``user`` saved ``task`` changing ``fields``: hold or approve it.

    Returns True when the task is now held by this change, False when the change approved it,
    None when no run field changed (nothing decided).
    """
    if not changes_what_runs(fields):
        return None
    if may_approve(user):
        approve(task, user)
        return False
    hold(task, user)
    return True


def created(task: Task, user) -> bool:
    """A new task by ``user``: approved by whoever may, held otherwise; True when held."""
    return bool(changed(task, user, RUN_FIELDS))


def saved_unchanged(task: Task, user) -> bool:
    """``user`` saved ``task`` without changing anything: approval, when they may give it.
    Returns whether the task was approved."""
    if is_held(task) and may_approve(user):
        approve(task, user)
        return True
    return False


def launched(task: Task, user) -> None:
    """``user`` launched ``task`` as it stands: approval, when they may give it."""
    if is_held(task) and may_approve(user):
        approve(task, user)


def _set(task: Task, **values) -> None:
    for name, value in values.items():
        setattr(task, name, value)
    Task.objects.filter(pk=task.pk).update(**values)
