"""The backend contract: the types every transport shares."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

# What a worker runs: a dotted path, so that no backend imports the run lifecycle.
RUN_FUNCTION = "eztaskmanager.services.run_management_command"
# Called by an RQ worker once it killed the work horse of a job stopped on request.
STOPPED_CALLBACK = "eztaskmanager.services.guard.job_stopped"  # stored in queued jobs: keep
JOB_PREFIX = "eztm-"
RETRY_PREFIX = "eztmr-"


class BackendError(Exception):
    """A job could not be enqueued, scheduled, cancelled or read; the message says why.

    ``unreachable`` is true when the backend could not be reached at all, so that a caller
    going through many tasks can stop instead of waiting for the same time-out again.
    """

    unreachable = False


@dataclass(frozen=True)
class Job:
    """One run to hand to a worker: the task it runs and how."""

    task_id: int
    job_id: str
    description: str
    timeout: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Seconds between firings of a periodic job, for a plain rqscheduler that repeats it.
    interval: int | None = None
    # The queue the job goes to (None: the backend's own); a task names it (``Task.queue``).
    queue: str | None = None


class Backend(ABC):
    """The contract every transport meets."""

    supports_schedule = False  # can store a job for a later due time
    supports_stop = False  # can stop a job that a worker is running
    supports_run_lock = False  # holds the per-task run lock itself
    runs_in_process = False  # enqueue runs the job at once and returns its report

    def new_job_id(self, task_id: int) -> str:
        """A fresh id for a run of task ``task_id``."""
        return job_id_for(task_id)

    @abstractmethod
    def enqueue(self, job: Job) -> Any:
        """Hand ``job`` to a worker now; return what the transport returns (a run's report
        for an in-process backend)."""

    def schedule_at(self, job: Job, when: datetime) -> None:
        raise BackendError(cannot_schedule())

    def cancel(self, job_id: str | None) -> None:  # noqa: B027 - nothing stored, nothing to do
        """Forget job ``job_id`` wherever it waits (scheduled or queued)."""

    def drop_queued(self, task_id: int, queue: str | None = None) -> int:
        """Remove the queued runs of task ``task_id`` from ``queue``; return how many."""
        return 0

    def stop_running(self, job_id: str) -> bool:
        """Ask the worker running ``job_id`` to stop it; False when no worker runs it."""
        return False

    def due_time(self, job_id: str | None) -> datetime | None:
        """When job ``job_id`` is due next, or None when it is not scheduled."""
        return None

    def set_due_time(self, job_id: str, when: datetime) -> None:  # noqa: B027
        """Move scheduled job ``job_id`` to ``when`` (only if it is scheduled)."""

    def live_jobs(self, job_ids: list[str], older_than: datetime) -> set[str]:
        """The ids among ``job_ids`` whose job still exists: queued, scheduled, deferred, or
        started after ``older_than`` (a start before it whose run never showed up is lost).
        A backend that cannot tell answers all of them (nothing is sent twice)."""
        return set(job_ids)

    def has_marker(self) -> bool:
        """Whether the scheduler's marker is still there (False: the store lost its data)."""
        return True

    def set_marker(self) -> None:  # noqa: B027 - nothing stored, nothing to lose
        """Leave the marker whose disappearance tells the scheduler the store was wiped."""

    def acquire_run_lock(self, task_id: int, token: str, ttl_seconds: float) -> bool:
        return True

    def renew_run_lock(self, task_id: int, token: str, ttl_seconds: float) -> None:  # noqa: B027
        """Keep the lock held for ``ttl_seconds`` more."""

    def release_run_lock(self, task_id: int, token: str) -> None:  # noqa: B027
        """Give the lock up, if ``token`` still holds it."""

    def current_job_id(self) -> str:
        """The id of the job this process is running, or ``""``."""
        return ""

    def current_job_timeout(self) -> int | None:
        """The time limit in seconds of the job this process is running, if it has one."""
        return None

    def is_timeout(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the transport stopping a job that ran out of time."""
        return False


def cannot_schedule() -> str:
    return _(
        "The immediate queue service runs tasks at once and cannot schedule them; "
        "use the RQ service to schedule."
    )


def job_id_for(task_id: int, retry: bool = False) -> str:
    """Job ids carry the task id: ``eztm-<task>-<random>``, ``eztmr-<task>-...`` for retries."""
    return f"{RETRY_PREFIX if retry else JOB_PREFIX}{task_id}-{uuid.uuid4().hex[:16]}"


def task_id_of(job_id: str) -> int | None:
    """The task a job id of ours runs, or None for a job that is not ours."""
    for prefix in (JOB_PREFIX, RETRY_PREFIX):
        if job_id.startswith(prefix):
            number = job_id[len(prefix) :].split("-", 1)[0]
            return int(number) if number.isdigit() else None
    return None
