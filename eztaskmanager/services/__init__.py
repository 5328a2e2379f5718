"""The job entry point kept from 0.5.x: ``run_management_command`` is what queued jobs call.

The run lifecycle itself lives in ``eztaskmanager.runs``.
"""

from __future__ import annotations


def run_management_command(task_id: int, scheduled: bool = False, attempt: int = 1, **origin):
    """Run task ``task_id`` in this process and return its LaunchReport (see ``runs.run_task``).

    ``origin`` holds what newer launches add (``arguments``, ``triggered_by``); jobs queued
    without them run the task as it is. As the function of a job in an RQ worker it returns
    the report's id only (``runs.run_job``).
    """
    # Imported here: ``runs`` imports this package's submodules (logger, notifications), so a
    # module-level import would make the package and ``runs`` import each other.
    from eztaskmanager.runs import run_job

    return run_job(task_id, scheduled=scheduled, attempt=attempt, **origin)


__all__ = ["run_management_command"]
