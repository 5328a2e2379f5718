"""A backend with no queue: a job runs at once, in the calling process (development, tests)."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from eztaskmanager.backends.base import RUN_FUNCTION, Backend, Job


class ImmediateBackend(Backend):
    """Runs each job as it is enqueued; cannot schedule, stop or lock (the caller waits)."""

    runs_in_process = True

    def enqueue(self, job: Job) -> Any:
        return import_string(RUN_FUNCTION)(job.task_id, **job.kwargs)
