from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from eztaskmanager.core.schedules import Schedule, add_months

ROME = ZoneInfo("Europe/Rome")


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def test_point_schedule_runs_once():
    start = at(2030, 1, 1, 10)
    schedule = Schedule(start)
    assert schedule.next_run(after=at(2029, 12, 31)) == start
    assert schedule.next_run(after=start) is None


@pytest.mark.parametrize(
    "period, rate, after, expected",
    [
        ("minute", 5, at(2030, 1, 1, 10, 7), at(2030, 1, 1, 10, 10)),
        ("minute", 1, at(2030, 1, 1, 10, 0), at(2030, 1, 1, 10, 1)),
        ("hour", 2, at(2030, 1, 1, 13, 30), at(2030, 1, 1, 14)),
        ("day", 1, at(2030, 1, 3, 9), at(2030, 1, 3, 10)),
        ("week", 1, at(2030, 1, 2), at(2030, 1, 8, 10)),
        ("week", 2, at(2030, 1, 9), at(2030, 1, 15, 10)),
    ],
)
def test_interval_next_run(period, rate, after, expected):
    schedule = Schedule(at(2030, 1, 1, 10), period, rate)
    assert schedule.next_run(after=after, tz=UTC) == expected


def test_start_in_future_is_first_run():
    schedule = Schedule(at(2030, 1, 1, 10), "day", 1)
    assert schedule.next_run(after=at(2029, 1, 1), tz=UTC) == at(2030, 1, 1, 10)


def test_calendar_month_keeps_day_and_clamps():
    schedule = Schedule(at(2031, 1, 31, 8), "month", 1)
    assert schedule.nth(1, UTC) == at(2031, 2, 28, 8)
    assert schedule.nth(2, UTC) == at(2031, 3, 31, 8)  # back to the 31st, not the 28th
    assert schedule.nth(13, UTC) == at(2032, 2, 29, 8)  # leap year
    assert schedule.next_run(after=at(2031, 2, 28, 8), tz=UTC) == at(2031, 3, 31, 8)


def test_month_is_not_thirty_days():
    schedule = Schedule(at(2031, 1, 15, 8), "month", 2)
    assert schedule.next_run(after=at(2031, 1, 20), tz=UTC) == at(2031, 3, 15, 8)


def test_add_months_across_years():
    assert add_months(datetime(2030, 11, 30), 3) == datetime(2031, 2, 28)
    assert add_months(datetime(2030, 3, 31), -1) == datetime(2030, 2, 28)


def test_daily_run_keeps_local_time_across_dst_spring_forward():
    # Europe/Rome moves from +01:00 to +02:00 on 2031-03-30.
    start = at(2031, 3, 28, 2, 30, tz=ROME)
    schedule = Schedule(start, "day", 1)
    runs = [schedule.nth(k, ROME) for k in range(4)]
    local_times = [run.astimezone(ROME).strftime("%m-%d %H:%M %z") for run in runs]
    assert local_times == [
        "03-28 02:30 +0100",
        "03-29 02:30 +0100",
        "03-30 03:30 +0200",  # 02:30 does not exist that night: moved past the gap
        "03-31 02:30 +0200",
    ]
    # the elapsed time between the days around the change is 23 hours, not 24
    assert runs[3] - runs[1] == timedelta(hours=47)


def test_daily_run_keeps_local_time_across_dst_fall_back():
    start = at(2031, 10, 24, 2, 0, tz=ROME)  # change on 2031-10-26
    schedule = Schedule(start, "day", 1)
    after = at(2031, 10, 25, 3, 0, tz=ROME)
    nxt = schedule.next_run(after=after, tz=ROME)
    assert nxt.astimezone(ROME).strftime("%m-%d %H:%M") == "10-26 02:00"
    assert nxt.astimezone(UTC) == at(2031, 10, 26, 0, 0)  # first of the two 02:00s
    following = schedule.next_run(after=nxt, tz=ROME)
    assert following.astimezone(ROME).strftime("%m-%d %H:%M %z") == "10-27 02:00 +0100"


def test_hourly_is_elapsed_time_across_dst():
    start = at(2031, 3, 30, 0, 30, tz=ROME)
    schedule = Schedule(start, "hour", 1)
    assert [schedule.nth(k, ROME).astimezone(ROME).strftime("%H:%M %z") for k in range(4)] == [
        "00:30 +0100",
        "01:30 +0100",
        "03:30 +0200",  # one hour of elapsed time after 01:30 +0100
        "04:30 +0200",
    ]


def test_far_future_next_run_is_exact():
    schedule = Schedule(at(2030, 1, 31, 6), "month", 1)
    assert schedule.next_run(after=at(2040, 6, 1), tz=UTC) == at(2040, 6, 30, 6)


# -- cron ------------------------------------------------------------------------------------

from eztaskmanager.core.schedules import CronError, describe_cron, next_cron_run, validate_cron  # noqa: E402


def test_cron_next_run_in_local_time():
    after = at(2031, 6, 10, 12, 0, tz=ROME)
    nxt = next_cron_run("30 2 * * *", after, ROME)
    assert nxt == at(2031, 6, 11, 0, 30)  # 02:30 in Rome (+02:00) is 00:30 UTC


def test_cron_across_spring_forward_runs_once_after_gap():
    runs, after = [], at(2031, 3, 28, 12, tz=ROME)
    for _ in range(3):
        after = next_cron_run("30 2 * * *", after, ROME)
        runs.append(after.astimezone(ROME).strftime("%m-%d %H:%M %z"))
    assert runs == ["03-29 02:30 +0100", "03-30 03:30 +0200", "03-31 02:30 +0200"]


def test_cron_across_fall_back_runs_once():
    runs, after = [], at(2031, 10, 25, 12, tz=ROME)
    for _ in range(3):
        after = next_cron_run("30 2 * * *", after, ROME)
        runs.append(after.astimezone(ROME).strftime("%m-%d %H:%M %z"))
    assert runs == ["10-26 02:30 +0200", "10-27 02:30 +0100", "10-28 02:30 +0100"]


def test_cron_schedule_respects_start():
    schedule = Schedule(start=at(2031, 1, 5, tz=UTC), cron="0 9 * * 1")  # Mondays 09:00
    assert schedule.is_periodic
    assert schedule.next_run(after=at(2031, 1, 1), tz=UTC) == at(2031, 1, 6, 9)
    assert schedule.next_run(after=at(2031, 1, 6, 9), tz=UTC) == at(2031, 1, 13, 9)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("* * * *", "has 4"),
        ("* * * * * *", "has 6"),
        ("61 * * * *", "not a valid cron expression"),
        ("a b c d e", "not a valid cron expression"),
    ],
)
def test_cron_validation_messages(expression, message):
    with pytest.raises(CronError, match=message):
        validate_cron(expression)


def test_cron_normalised():
    assert validate_cron("  */5   *  * * * ") == "*/5 * * * *"


@pytest.mark.parametrize(
    "expression, words",
    [
        ("30 2 * * *", "at 02:30, every day"),
        ("*/15 * * * *", "every 15 minutes"),
        ("0 9 * * 1-5", "at 09:00, on Monday to Friday"),
        ("0 0 1 * *", "at 00:00, on day 1 of the month"),
        ("0 6 * 1,7 *", "at 06:00, in January, July"),
    ],
)
def test_cron_in_words(expression, words):
    assert describe_cron(expression) == words


def test_seconds_repetition():
    schedule = Schedule(at(2030, 1, 1), "second", 5)
    assert schedule.next_run(after=at(2030, 1, 1, 0, 0, 7), tz=UTC) == at(2030, 1, 1, 0, 0, 10)
