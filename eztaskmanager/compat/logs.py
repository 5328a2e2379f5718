"""Log rows saved through the ORM, as 0.5.x's handler and projects' own handlers wrote them.

``Log.save`` numbers such a row itself (``LaunchReport.number_line``); during a run, the run's
handler numbers it after the lines it holds: ``number_in_run`` is what ``services.logger``
registers as ``Log.run_writer``.
"""

from __future__ import annotations

from eztaskmanager.models import Log
from eztaskmanager.runs.logger import current_handler, write_row_now


def register() -> None:
    """Let the run's handler number the rows saved through the ORM (``apps.py`` calls this)."""
    Log.run_writer = number_in_run


def number_in_run(log, save) -> bool:
    """Number and ``save()`` the new ``log`` row when its report's run is in progress in this
    context (True), or leave it to ``LaunchReport.number_line`` (False)."""
    handler = current_handler()
    if handler is None or handler.launch_report_id != log.launch_report_id:
        return False

    def save_as(lineno: int) -> None:
        log.lineno = lineno
        save()

    write_row_now(handler, log.level, save_as)
    return True
