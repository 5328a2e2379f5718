"""The stop callback's dotted path, stored in every queued job (``backends.base.STOPPED_CALLBACK``):
``job_stopped`` here is the function itself (``eztaskmanager.runs.guard``), forever."""

from eztaskmanager.runs.guard import job_stopped  # noqa: F401 - named by queued jobs

__all__ = ["job_stopped"]
