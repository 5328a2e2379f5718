"""Next-run computation for point, interval, calendar-month and cron schedules.

Times are aware datetimes; results are in UTC. Repetitions by day, week and month, and cron
expressions, follow the wall clock of the project's ``TIME_ZONE`` (a daily 02:00 run stays at
02:00 across daylight saving changes; a wall time skipped by the change runs just after the gap,
a repeated one runs once); repetitions by second, minute and hour are fixed lengths of elapsed
time.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from django.utils import timezone

FIXED_PERIODS = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
}
CALENDAR_DAYS = {"day": 1, "week": 7}
DAY_SECONDS = 86400
# A month's nominal length (as 0.5.x counted it) and its longest.
MONTH_DAYS_NOMINAL, MONTH_DAYS_LONGEST = 30, 31


def period_seconds(period: str, longest: bool = False) -> int:
    """The length of one repetition ``period`` in seconds: exact from a second to a week; a
    month counts its nominal 30 days, or 31 with ``longest`` (for bounds). The runs themselves
    follow the calendar (``Schedule.nth``). KeyError for an unknown period."""
    if period in FIXED_PERIODS:
        return int(FIXED_PERIODS[period].total_seconds())
    if period in CALENDAR_DAYS:
        return CALENDAR_DAYS[period] * DAY_SECONDS
    if period == "month":
        return (MONTH_DAYS_LONGEST if longest else MONTH_DAYS_NOMINAL) * DAY_SECONDS
    raise KeyError(period)


class CronError(ValueError):
    """A cron expression that cannot be used."""


def validate_cron(expression: str) -> str:
    """Return the normalised 5-field expression, or raise CronError saying what is wrong."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            f"{expression.strip()!r} has {len(fields)}."
        )
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise CronError(f"{normalised!r} is not a valid cron expression.")
    try:
        croniter(normalised, datetime(2000, 1, 1)).get_next(datetime)
    except ValueError as exc:  # croniter accepts "0 0 31 2 *" and then finds no date
        raise CronError(f"{normalised!r} matches no date: it would never run.") from exc
    return normalised


@dataclass(frozen=True)
class Schedule:
    """When a task runs: once at ``start``, or from ``start`` every ``rate`` ``period``s."""

    start: datetime | None = None
    period: str = ""
    rate: int | None = None
    cron: str = ""

    @property
    def is_periodic(self) -> bool:
        return bool(self.cron) or (bool(self.period) and bool(self.rate))

    @property
    def is_scheduled(self) -> bool:
        return self.start is not None or self.is_periodic

    @classmethod
    def for_task(cls, task) -> Schedule:
        return cls(
            task.scheduling,
            task.repetition_period or "",
            task.repetition_rate,
            getattr(task, "cron_expression", "") or "",
        )

    def nth(self, k: int, tz: tzinfo | None = None) -> datetime:
        """The k-th run (k = 0 is ``start``), in UTC."""
        assert self.start is not None
        if self.period in FIXED_PERIODS:
            # In UTC: arithmetic on datetimes sharing a zone ignores offset changes.
            return self.start.astimezone(UTC) + FIXED_PERIODS[self.period] * (self.rate * k)
        tz = tz or timezone.get_current_timezone()
        local = timezone.localtime(self.start, tz).replace(tzinfo=None)
        if self.period in CALENDAR_DAYS:
            local = local + timedelta(days=CALENDAR_DAYS[self.period] * self.rate * k)
        elif self.period == "month":
            local = add_months(local, self.rate * k)
        else:
            raise ValueError(f"Unknown repetition period: {self.period!r}")
        return make_aware_forward(local, tz)

    def next_run(self, after: datetime | None = None, tz: tzinfo | None = None) -> datetime | None:
        """The first run strictly after ``after`` (default: now), in UTC, or None."""
        after = (after or timezone.now()).astimezone(UTC)
        if self.cron:
            if self.start is not None and self.start > after:
                after = self.start.astimezone(UTC) - timedelta(microseconds=1)
            return next_cron_run(self.cron, after, tz or timezone.get_current_timezone())
        if self.start is None:
            return None
        start = self.start.astimezone(UTC)
        if not self.is_periodic:
            return start if start > after else None
        if start > after:
            return start
        k = max(self._estimate_index(after), 0)
        # The estimate is within a step or two of the answer; walk to the exact one.
        while k > 0 and self.nth(k - 1, tz) > after:
            k -= 1
        while self.nth(k, tz) <= after:
            k += 1
        return self.nth(k, tz)

    def _estimate_index(self, after: datetime) -> int:
        elapsed = (after - self.start).total_seconds()
        if self.period in FIXED_PERIODS:
            step = FIXED_PERIODS[self.period].total_seconds() * self.rate
        elif self.period in CALENDAR_DAYS:
            step = DAY_SECONDS * CALENDAR_DAYS[self.period] * self.rate
        else:
            step = DAY_SECONDS * 30.436875 * self.rate  # a month on average
        return int(elapsed // step)


# A pure function of its arguments, and croniter parses its expression on every call: a sync
# of many tasks sharing an expression computes it once per (expression, time).
@functools.lru_cache(maxsize=4096)
def next_cron_run(expression: str, after: datetime, tz: tzinfo) -> datetime:
    """The first time matching ``expression`` in ``tz``'s wall clock strictly after ``after``."""
    from croniter import croniter

    # croniter walks naive wall-clock times; each is then placed in the zone, so a repeated
    # hour is run once and a skipped one just after the gap, as for daily repetitions.
    wall = after.astimezone(tz).replace(tzinfo=None)
    times = croniter(expression, wall)
    while True:
        candidate = make_aware_forward(times.get_next(datetime), tz)
        if candidate > after:
            return candidate


def describe_cron(expression: str) -> str:
    """The expression in words, for the admin: ``"at 02:30, every day"``."""
    minute, hour, dom, month, dow = expression.split()
    if minute.isdigit() and hour.isdigit():
        parts = [f"at {int(hour):02d}:{int(minute):02d}"]
    else:
        parts = [_words(minute, "minute", "minutes", "every minute")]
        if hour != "*":
            parts.append(_words(hour, "past hour", "hours", ""))
    if dom != "*":
        parts.append(_words(dom, "on day", "days", "") + " of the month")
    if month != "*":
        parts.append(_words(month, "in", "months", "", MONTH_NAMES))
    if dow != "*":
        parts.append(_words(dow, "on", "weekdays", "", DAY_NAMES))
    if dom == dow == month == "*" and len(parts) == 1 and parts[0].startswith("at "):
        parts.append("every day")
    return ", ".join(parts)


DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTH_NAMES = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _words(field: str, label: str, plural: str, star: str, names: list[str] | None = None) -> str:
    def name(value: str) -> str:
        if names and value.isdigit() and int(value) < len(names):
            return names[int(value)]
        return value

    if field == "*":
        return star
    if field.startswith("*/"):
        return f"every {field[2:]} {plural}"
    items = []
    for item in field.split(","):
        low, dash, high = item.partition("-")
        items.append(f"{name(low)} to {name(high)}" if dash else name(item))
    return f"{label} {', '.join(items)}"


def add_months(value: datetime, months: int) -> datetime:
    """``value`` plus ``months`` calendar months, the day clamped to the month's last day."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def make_aware_forward(local: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock time; the result is in UTC.

    A time that does not exist (skipped by a spring-forward change) moves forward by the gap;
    an ambiguous time (repeated in autumn) takes its first occurrence.
    """
    # PEP 495: with fold=0 a skipped time takes the offset from before the change, which
    # lands it after the gap, and a repeated time is its first occurrence.
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)
