"""Upper bounds on a task's run options and schedule, checked when a task is saved.

The fields themselves accept far larger numbers (they are the columns of earlier versions); a
value past these bounds would overflow later, in Redis or in date arithmetic, where nobody sees
the error. ``task_errors`` turns each into a form error instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import CroniterBadDateError
from django.utils import timezone
from django.utils.translation import gettext as _

from eztaskmanager.core import schedules

DAY = 86400
# Longest run a task may ask for (a week).
MAX_TIMEOUT = 7 * DAY
# Longest wait before one retry, and the most retries and written delays.
MAX_RETRY_DELAY = 7 * DAY
MAX_RETRIES = 20
MAX_RETRY_DELAYS = 20
# Longest repetition interval (about a year), so that every rate stays a sane number.
MAX_REPETITION_SECONDS = 366 * DAY
# The first run must come before this time: later ones overflow Python's dates.
LATEST_FIRST_RUN = datetime(9999, 1, 1, tzinfo=UTC)
PERIODS = ("second", "minute", "hour", "day", "week", "month")


def _delays(text: str) -> list[int] | None:
    pieces = [piece.strip() for piece in (text or "").split(",") if piece.strip()]
    if not all(piece.isdigit() for piece in pieces):
        return None  # the model's own check explains the notation
    return [int(piece) for piece in pieces]


def retry_errors(task) -> dict[str, str]:
    errors = {}
    if task.max_retries is not None and task.max_retries > MAX_RETRIES:
        errors["max_retries"] = f"At most {MAX_RETRIES} retries."
    delays = _delays(task.retry_delays)
    if delays is None:
        return errors
    if len(delays) > MAX_RETRY_DELAYS:
        errors["retry_delays"] = f"Write at most {MAX_RETRY_DELAYS} delays."
    elif any(delay > MAX_RETRY_DELAY for delay in delays):
        errors["retry_delays"] = f"Each delay is at most {MAX_RETRY_DELAY} seconds (7 days)."
    elif task.retry_exponential and delays and task.max_retries:
        longest = delays[0] * 2 ** (min(task.max_retries, MAX_RETRIES) - 1)
        if longest > MAX_RETRY_DELAY:
            errors["retry_delays"] = (
                f"With exponential backoff the last delay would be {longest} seconds; "
                f"it may be at most {MAX_RETRY_DELAY} (7 days)."
            )
    return errors


def repetition_errors(task) -> dict[str, str]:
    rate, period = task.repetition_rate, task.repetition_period
    if not rate or period not in PERIODS:
        return {}
    most = MAX_REPETITION_SECONDS // schedules.period_seconds(period, longest=True)
    if rate > most:
        return {"repetition_rate": f"Repeat at least once a year: at most {most} {period}s."}
    return {}


def schedule_errors(task, now: datetime | None = None) -> dict[str, str]:
    """A schedule whose first run never comes or is past the year 9998."""
    schedule = schedules.Schedule.for_task(task)
    if not schedule.is_scheduled:
        return {}
    field = "cron_expression" if schedule.cron else "scheduling"
    try:
        first = schedule.next_run(after=now or timezone.now())
    except CroniterBadDateError:
        return {field: "This cron expression never fires (no such date, e.g. 31 February)."}
    except (ValueError, OverflowError):  # date arithmetic past the year 9999
        first = LATEST_FIRST_RUN
    if first is not None and first >= LATEST_FIRST_RUN:
        return {field: "The first run must come before the year 9999."}
    return {}


# The one character no database text column of PostgreSQL can store.
NUL = "\x00"


def nul_message() -> str:
    return _("The text contains a NUL character (\\0), which cannot be stored: remove it.")


def has_nul(*values) -> bool:
    """True when any of the strings among ``values`` holds a NUL character."""
    return any(isinstance(value, str) and NUL in value for value in values)


def text_errors(instance) -> dict[str, str]:
    """Form errors for the text fields of ``instance`` that hold a NUL character."""
    return {
        field.attname: nul_message()
        for field in instance._meta.get_fields()  # documented; concrete_fields is not
        if field.concrete and has_nul(getattr(instance, field.attname, None))
    }


def task_errors(task, now: datetime | None = None) -> dict[str, str]:
    """Form errors, by field, for every bound ``task`` oversteps."""
    errors: dict[str, str] = {}
    if task.timeout is not None and task.timeout > MAX_TIMEOUT:
        errors["timeout"] = f"At most {MAX_TIMEOUT} seconds (7 days)."
    errors.update(retry_errors(task))
    errors.update(repetition_errors(task))
    if "repetition_rate" not in errors:
        for field, message in schedule_errors(task, now).items():
            errors.setdefault(field, message)
    return errors
