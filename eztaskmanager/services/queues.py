"""The queue-service API of 0.5.x, kept for user code: a thin facade over ``operations``.

``get_task_service()`` returns the service named by ``EZTASKMANAGER_QUEUE_SERVICE_TYPE``; its
``launch``, ``add``, ``schedule``, ``remove`` and ``stop`` call the operations of the same name
and return their ``Outcome`` (which also answers ``.id``, the job id, as 0.5.x's RQ job did).
Like 0.5.x, they send to Redis at once, even inside a transaction.
New code calls ``eztaskmanager.operations`` directly.
"""

from __future__ import annotations

from eztaskmanager import operations
from eztaskmanager.backends import (  # noqa: F401 - JOB_PREFIX, RETRY_PREFIX: 0.6 names
    JOB_PREFIX,
    RETRY_PREFIX,
    Backend,
    BackendError,
    ImmediateBackend,
    RQBackend,
    backend_class,
)
from eztaskmanager.backends.rq import META_RETRY_OF, META_TASK_ID  # noqa: F401 - 0.6 names

TaskQueueException = BackendError


class TaskQueueService:
    """Launches and schedules tasks through its backend."""

    backend_class: type[Backend] = ImmediateBackend

    def __init__(self, backend: Backend | None = None):
        self.backend = backend or self.backend_class()

    def launch(self, task) -> operations.Outcome:
        """Run ``task`` as soon as possible, whatever its schedule."""
        return operations.launch(task, self.backend, defer=False)

    def schedule(self, task) -> operations.Outcome:
        """Schedule the next run(s) of ``task`` from its schedule fields."""
        return operations.schedule(task, self.backend, defer=False)

    def remove(self, task) -> None:
        """Unschedule ``task``; the task becomes idle."""
        operations.unschedule(task, self.backend, defer=False)

    def stop(self, task, by: str) -> int:
        """Unschedule ``task`` and stop its runs; return how many runs were asked to stop."""
        return operations.stop(task, by, self.backend, defer=False).stopped_runs

    def add(self, task) -> operations.Outcome:
        """Schedule ``task`` if it has a schedule, otherwise launch it now (0.5.x behaviour)."""
        if task.is_scheduled:
            return self.schedule(task)
        return self.launch(task)


class RQTaskQueueService(TaskQueueService):
    """Launches on a django-rq queue and schedules with rq-scheduler."""

    backend_class = RQBackend

    def __init__(self, queue_name: str | None = None, connection=None):
        super().__init__(RQBackend(queue_name, connection=connection))

    @property
    def queue_name(self) -> str:
        return self.backend.queue_name

    @property
    def queue(self):
        return self.backend.queue

    @property
    def scheduler(self):
        return self.backend.scheduler

    @property
    def connection(self):
        return self.backend.connection


class ImmediateTaskQueueService(TaskQueueService):
    """Runs a launched task at once, in the calling process; cannot schedule (no Redis)."""


SERVICES = {"RQ": RQTaskQueueService, "immediate": ImmediateTaskQueueService}


def get_task_service() -> TaskQueueService:
    """The queue service named by ``EZTASKMANAGER_QUEUE_SERVICE_TYPE``."""
    found = backend_class()
    if isinstance(found, type) and issubclass(found, TaskQueueService):
        return found()
    for service_class in SERVICES.values():
        if found is service_class.backend_class:
            return service_class()
    return TaskQueueService(found())
