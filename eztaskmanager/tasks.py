"""A backend for Django's task API: ``@task`` functions run, stopped and watched as tasks.

In the settings (Django 6, or Django 5.2 with the ``django-tasks`` package)::

    TASKS = {
        "default": {
            "BACKEND": "eztaskmanager.tasks.Backend",
            "QUEUES": ["default"],  # names of RQ_QUEUES; the default is ["default"]
        }
    }

``Task.enqueue()`` records the call as a launch in the database, then puts its job on the
call's queue after the commit; any worker running ``eztaskmanager.worker.TaskWorker`` (or an
RQ worker) runs it with its report, log, timeout, stop, retries and notifications. Results are
read back from the reports (``records.calls``), from any process.

What the capability flags say here:

* ``supports_get_result``: yes, ``get_result``, ``aget_result`` and ``TaskResult.refresh()``
  answer from the database;
* ``supports_async_task``: yes, a coroutine function runs in an event loop of its own in the
  work horse;
* ``supports_defer``: yes, a call with ``run_after`` is recorded at once and its job waits in
  the scheduler (``taskmanager scheduler``) until that time, to the fraction of a second; the
  scheduler's sweep sends a lost one back there. With the ``immediate`` queue service it runs at
  once;
* ``supports_priority``: when ``OPTIONS["PRIORITY_QUEUES"]`` maps priorities onto queues,
  e.g. ``[[10, "high"], [-10, "default"], [-100, "low"]]``: a call goes to the queue of the
  first ``[minimum, queue]`` whose minimum its priority reaches (in the order given, highest
  minimum first), and a worker started as ``rqworker high default low`` takes them in that
  order (first in, first out within a queue). Without it a priority other than 0 is refused.
"""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from eztaskmanager.internals import djangotasks
from eztaskmanager.models import configured_queues
from eztaskmanager.operations import calls as operations_calls
from eztaskmanager.records import calls
from eztaskmanager.runs.logger import record_progress
from eztaskmanager.runs.logger import track as track_progress

if not djangotasks.AVAILABLE:  # pragma: no cover - imported by name from TASKS only
    raise ImportError(
        "eztaskmanager.tasks needs Django 6 (django.tasks) or the django-tasks package "
        "(pip install 'django-eztaskmanager[tasks]')"
    )


def progress(done: int, total: int | None = None) -> None:
    """Record how far the call in progress is (``done`` of ``total``): the admin, the live log
    and the dashboard show it as a progress bar. Stored at most twice a second, and always
    when ``done`` reaches ``total``; outside a run (a direct call), nothing happens."""
    record_progress(done, total)


def track(iterable, total: int | None = None):
    """Yield from ``iterable``, recording the call's progress as it goes (``total``: its
    length when it has one)."""
    return track_progress(iterable, total)


def priority_queues(value) -> list[tuple[int, str]]:
    """``OPTIONS["PRIORITY_QUEUES"]`` as ``[(minimum priority, queue), ...]``, highest minimum
    first; ``ImproperlyConfigured`` says what is wrong with it."""
    if not value:
        return []
    try:
        pairs = [(int(minimum), str(queue)) for minimum, queue in value]
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            'TASKS OPTIONS "PRIORITY_QUEUES" is a list of [minimum priority, queue] pairs, '
            f'e.g. [[10, "high"], [-100, "low"]]: {exc}'
        ) from exc
    minimums = [minimum for minimum, _queue in pairs]
    if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
        raise ImproperlyConfigured(
            'TASKS OPTIONS "PRIORITY_QUEUES": give the pairs highest minimum first, each '
            f"minimum once (got {minimums})."
        )
    return pairs


class Backend(djangotasks.BaseTaskBackend):
    """Django's task API on eztaskmanager's launches, workers and reports."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = False

    def __init__(self, alias, params):
        super().__init__(alias, params)
        self.priority_queues = priority_queues(self.options.get("PRIORITY_QUEUES"))
        if self.priority_queues:
            self.supports_priority = True

    def queue_for(self, task) -> str:
        """The queue of a call of ``task``: by its priority when priorities map onto queues,
        else its ``queue_name``."""
        for minimum, queue in self.priority_queues:
            if task.priority >= minimum:
                return queue
        return task.queue_name

    def enqueue(self, task, args, kwargs):
        """Record a call of ``task`` and queue it; return its ``TaskResult`` (READY).

        ``InvalidTask`` for a task this backend cannot run (see ``validate_task``) or one the
        command policy refuses; ``TypeError`` for arguments that are not JSON values or that
        the function's signature does not take.
        """
        self.validate_task(task)
        try:
            report = operations_calls.enqueue(task, args, kwargs, self.queue_for(task))
        except operations_calls.CallRefused as exc:
            raise djangotasks.InvalidTask(str(exc)) from exc
        # Built from the report in hand (run already in process, or just queued): no query.
        result = calls.result_from([report], self.alias, task)
        djangotasks.task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id):
        """The ``TaskResult`` of call ``result_id`` as its reports say now;
        ``TaskResultDoesNotExist`` when there is none (never launched, or pruned)."""
        return calls.result_of(str(result_id), self.alias)

    def check(self, **kwargs):
        known = set(configured_queues())
        named = self.queues | {queue for _minimum, queue in self.priority_queues}
        for queue in sorted(named - known):
            # A warning: the worker and the site still run everything else; a call on that
            # queue is refused when it is enqueued.
            yield checks.Warning(
                f"TASKS[{self.alias!r}] names queue {queue!r}, which is not in RQ_QUEUES.",
                hint=f"Use one of {', '.join(sorted(known)) or '(none configured)'}.",
                id="eztaskmanager.W041",
            )
