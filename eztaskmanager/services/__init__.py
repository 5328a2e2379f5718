"""The job entry point kept from 0.5.x: ``run_management_command`` is what queued jobs call.

The run lifecycle itself lives in ``eztaskmanager.runs``.
"""

from __future__ import annotations


def run_management_command(
    task_id: int, scheduled: bool = False, attempt: int = 1, report_id: int | None = None
):
    """Run task ``task_id`` in this process and return its LaunchReport (see ``runs.run_task``)."""
    # Imported here: ``runs`` imports this package's submodules (logger, notifications), so a
    # module-level import would make the package and ``runs`` import each other.
    from eztaskmanager.runs import run_task

    return run_task(task_id, scheduled=scheduled, attempt=attempt, report_id=report_id)


__all__ = ["run_management_command"]
