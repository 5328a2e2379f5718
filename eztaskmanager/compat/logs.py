"""Log rows saved through the ORM, as 0.5.x's handler and projects' own handlers wrote them."""

from __future__ import annotations

from django.db import router, transaction
from django.db.models import F, Max

from eztaskmanager.services.logger import current_handler, write_row_now

ERROR_LEVELS = ("ERROR", "CRITICAL")


def save_numbered(log, save, *args, **kwargs) -> None:
    """Save the new ``log`` row with the next line number of its report, counted.

    During a run of that report (in the run's own context), the run's handler numbers it after
    the lines it holds; otherwise the report row is locked while the number is taken, so two
    writers never take the same one.
    """
    handler = current_handler()
    if handler is not None and handler.launch_report_id == log.launch_report_id:

        def save_as(lineno: int) -> None:
            log.lineno = lineno
            save(*args, **kwargs)

        write_row_now(handler, log.level, save_as)
        return
    report_model = log._meta.get_field("launch_report").related_model
    counters = {"n_lines": F("n_lines") + 1}
    if log.level in ERROR_LEVELS:
        counters["n_errors"] = F("n_errors") + 1
    elif log.level == "WARNING":
        counters["n_warnings"] = F("n_warnings") + 1
    with transaction.atomic(using=router.db_for_write(type(log))):
        reports = report_model.objects.filter(pk=log.launch_report_id)
        list(reports.select_for_update().values("pk"))
        siblings = type(log).objects.filter(launch_report_id=log.launch_report_id)
        log.lineno = (siblings.aggregate(last=Max("lineno"))["last"] or 0) + 1
        save(*args, **kwargs)
        reports.update(**counters)
