"""Next-run computation for point, interval, calendar-month and cron schedules.

Times are aware datetimes. Repetitions by day, week and month keep the wall-clock time of the
first run in the project's ``TIME_ZONE`` (a daily 02:00 run stays at 02:00 across daylight
saving changes); repetitions by minute and hour are fixed lengths of elapsed time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from django.utils import timezone

FIXED_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
CALENDAR_DAYS = {"day": 1, "week": 7}
PERIODS = ("minute", "hour", "day", "week", "month")


@dataclass(frozen=True)
class Schedule:
    """When a task runs: once at ``start``, or from ``start`` every ``rate`` ``period``s."""

    start: datetime | None = None
    period: str = ""
    rate: int | None = None

    @property
    def is_periodic(self) -> bool:
        return bool(self.period) and bool(self.rate)

    @classmethod
    def for_task(cls, task) -> Schedule:
        return cls(task.scheduling, task.repetition_period or "", task.repetition_rate)

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
        if self.start is None:
            return None
        after = (after or timezone.now()).astimezone(UTC)
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
            step = 86400 * CALENDAR_DAYS[self.period] * self.rate
        else:
            step = 86400 * 30.436875 * self.rate
        return int(elapsed // step)


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
