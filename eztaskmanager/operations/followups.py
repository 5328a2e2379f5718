"""Follow-up tasks: launch other tasks when a run ends with the results each one names.

A ``FollowUp`` row says "when a run of ``task`` ends with one of ``results``, launch ``then``".
The run lifecycle sends ``signals.run_finished`` once a run's outcome is stored; the receiver
here launches the follow-ups through ``operations.launch`` as the ``follow-up`` actor, with the
finished report as the new run's ``triggered_by``. A failed run whose retry was planned (the
report records it) launches nothing: its last attempt decides. Follow-ups may not form a cycle
(a task would launch itself forever); ``cycle_through`` finds one before it is saved.

Launching a follow-up starts a run as a schedule does, so the rule of scheduled tasks applies:
a held follow-up task (what it runs was changed by somebody who may not launch tasks, see
``authorisation``) is not launched until somebody who may launch tasks approves it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.dispatch import receiver

from eztaskmanager import operations
from eztaskmanager.backends import BackendError, get_backend
from eztaskmanager.core import permissions
from eztaskmanager.models import FollowUp, LaunchReport, Task
from eztaskmanager.operations import audit, authorisation
from eztaskmanager.signals import run_finished

logger = logging.getLogger(__name__)

ACTOR = "follow-up"


def follow_up_graph(exclude_task_id: int | None = None) -> dict[int, set[int]]:
    """Every stored follow-up as ``{task id: ids of the tasks it launches}``."""
    rows = FollowUp.objects.values_list("task_id", "then_id")
    if exclude_task_id is not None:
        rows = rows.exclude(task_id=exclude_task_id)
    graph: dict[int, set[int]] = {}
    for task_id, then_id in rows:
        graph.setdefault(task_id, set()).add(then_id)
    return graph


def cycle_through(task_id: int, thens: Iterable[int]) -> list[int] | None:
    """The task ids of a cycle that giving ``task_id`` the follow-ups ``thens`` would close.

    The stored follow-ups of other tasks are taken as they are; the answer starts and ends with
    ``task_id`` (``[a, b, a]``), or is None when there is no cycle.
    """
    graph = follow_up_graph(exclude_task_id=task_id)
    graph[task_id] = set(thens)
    # Depth-first from task_id, remembering how each task was reached.
    came_from: dict[int, int] = {}
    stack = [task_id]
    seen = {task_id}
    while stack:
        current = stack.pop()
        for following in sorted(graph.get(current, ())):
            if following == task_id:
                path = [current]
                while path[-1] != task_id:
                    path.append(came_from[path[-1]])
                return [*reversed(path), task_id]
            if following not in seen:
                seen.add(following)
                came_from[following] = current
                stack.append(following)
    return None


def cycle_text(cycle: list[int]) -> str:
    """The cycle by task names: ``“a” → “b” → “a”``."""
    names = dict(Task.objects.filter(pk__in=set(cycle)).values_list("pk", "name"))
    return " → ".join(f"“{names.get(pk, pk)}”" for pk in cycle)


def fires(report: LaunchReport) -> bool:
    """Whether ``report``'s end is one that follow-ups react to: any result, unless a retry of
    the run was planned (``retry_planned``, recorded with the outcome), whatever ended it: a
    stopped run plans no retry, so it fires as it would without retries. A launch skipped
    because another run was going fires nothing (that run fires its own)."""
    if report.ending == LaunchReport.ENDING_SKIPPED:
        return False
    return bool(report.invocation_result) and not report.retry_planned


def unapproved_change(task: Task) -> str | None:
    """Who changed what ``task`` runs without the launch permission, while nobody with it has
    approved the task since (``Task.held_since``); None when the task may be launched."""
    return authorisation.held_by(task)


def trusted(user) -> bool:
    """A person allowed to launch tasks, or one of the package's own actors (a process the
    operators run: the command line, tasks-as-code, the scheduler), marked as such by a row
    that only code creates: a user merely named like one is not trusted."""
    return permissions.may_launch(user) or audit.is_internal(user)


@receiver(run_finished, dispatch_uid="eztaskmanager_launch_follow_ups")
def launch_follow_ups(
    sender, report: LaunchReport, notes: list | None = None, **kwargs
) -> list[operations.Outcome]:
    """Launch the follow-ups of ``report``'s task that its result triggers; what was launched
    (or why not) goes to ``notes`` when given, else to the report's log."""
    # run_task reads whether the task has follow-ups with the task itself.
    if not fires(report) or not getattr(report.task, "has_follow_ups", True):
        return []
    follow_ups = [
        follow_up
        for follow_up in FollowUp.objects.filter(task_id=report.task_id).select_related(
            "then__command"
        )
        if follow_up.fires_on(report.invocation_result)
    ]
    if not follow_ups:
        return []
    try:
        backend = get_backend()
    except BackendError:  # said on each follow-up below
        backend = None
    if backend is None or backend.runs_in_process:
        return launch_each(report, follow_ups, backend, notes)
    # Recorded as queued launches in one transaction; their jobs go to Redis when it commits,
    # and one whose send fails stays queued for the scheduler's sweep: nothing is lost, and a
    # stop in a web request does not fail on a follow-up's send.
    with transaction.atomic():
        return launch_each(report, follow_ups, backend, notes)


def launch_each(
    report: LaunchReport, follow_ups: list[FollowUp], backend=None, notes: list | None = None
) -> list:
    """Launch each of ``follow_ups`` of ``report`` that may be launched; say so in its log
    (or in ``notes``, written by the caller)."""
    actor = audit.actor(ACTOR)
    outcomes, lines = [], []
    for follow_up in follow_ups:
        task = follow_up.then
        changed_by = unapproved_change(task)
        try:
            if changed_by:
                raise operations.NotAllowed(
                    f"its command or arguments, or how it runs, were changed by {changed_by!r}, "
                    "who may not launch tasks; it runs again once somebody who may approves it"
                )
            outcomes.append(operations.launch(task, backend, user=actor, triggered_by=report.pk))
        except BackendError as exc:
            message = f"Follow-up task {task.name!r} not launched: {exc}"
            logger.warning("Report %s: %s", report.pk, message)
            lines.append(("WARNING", message, False))
        else:
            lines.append(("INFO", f"Follow-up task {task.name!r} launched.", False))
    if notes is not None:
        notes.extend(lines)
    else:
        report.append_lines(lines)  # one write for all of them
    return outcomes
