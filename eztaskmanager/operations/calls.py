"""Calls of ``@task`` functions through Django's task API, as launches of their tasks.

Each function called through ``Task.enqueue`` has a task of its own, named by the function's
dotted path and made on its first call: its reports are the function's history in the admin,
where it can be stopped, given retries, a timeout, notifications and follow-ups as any task.
A call is a launch of that task with the call's arguments (JSON) and queue, recorded in the
database before its job goes to Redis, as every launch is.
"""

from __future__ import annotations

from django.db import transaction

from eztaskmanager import operations
from eztaskmanager.core import functions, policy
from eztaskmanager.models import AppCommand, LaunchReport, Task, configured_queues


class CallRefused(ValueError):
    """A call that cannot be launched: the policy refuses its function or its queue is not
    one of django-rq's."""


def task_for(function) -> Task:
    """The task that runs ``function`` (a ``Task`` of Django's API) for its calls, made on the
    first call; ``CallRefused`` when the policy does not let it run."""
    name = function.module_path
    refused = policy.refusal_explained(name)
    if refused:
        raise CallRefused(refused)
    # One query for a function called before (its row and task exist).
    found = Task.objects.select_related("command").filter(command__name=name, name=name)
    task = found.order_by("command_id", "pk").first()
    if task is not None:
        return task
    with transaction.atomic():
        command = AppCommand.objects.filter(name=name).order_by("pk").first()
        if command is None:
            command = AppCommand.objects.create(
                name=name, app_name=functions.containing_app(name).name
            )
        task = Task.objects.filter(command=command, name=name).order_by("pk").first()
        if task is None:
            task = Task.objects.create(name=name, command=command)
    return task


def enqueue(function, args, kwargs, queue: str = "") -> LaunchReport:
    """Launch a call of ``function`` with ``args`` and ``kwargs`` on ``queue`` (by default its
    ``queue_name``); return its queued report (or, on a backend that runs in process, the
    report of the run already done).

    ``TypeError`` when the arguments are no JSON values or the function's signature refuses
    them; ``CallRefused`` when the policy refuses the function or the queue is unknown.
    """
    try:
        text = functions.dump(args, kwargs)
        functions.bind(function, list(args), dict(kwargs))
    except functions.ArgumentsError as exc:
        raise TypeError(str(exc)) from exc
    queue = queue or function.queue_name
    if queue not in configured_queues():
        raise CallRefused(
            f"queue {queue!r} is not in RQ_QUEUES: use one of "
            f"{', '.join(configured_queues()) or '-'}"
        )
    task = task_for(function)
    try:
        outcome = operations.launch(
            task,
            arguments=text,
            call_id=functions.new_call_id(),
            queue=queue,
            run_after=function.run_after,
            audited=False,  # a call is recorded by its report, not in the admin history
        )
    except operations.NotAllowed as exc:  # the row was made inactive by a superuser
        raise CallRefused(str(exc)) from exc
    return outcome.queued or outcome.report
