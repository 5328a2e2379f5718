"""Live tail: one poll of ``ajax_read_log_lines`` on a short and on a very long log."""

from __future__ import annotations

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from benchmarks.common import Row, analyze, count_queries, make_task, median, ms, timed

NEW_LINES = 10  # the poll finds this many lines the client has not seen yet


def fill_log(report, n: int) -> None:
    """Insert ``n`` numbered log lines in one SQL statement, and set the report's counter."""
    from eztaskmanager.models import Log

    table = connection.ops.quote_name(Log._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(c)
        for c in ("launch_report_id", "timestamp", "level", "message", "lineno")
    )
    n = int(n)
    values = f"%s, %s, 'INFO', 'imported row ' || n || ' of {n}', n"
    if connection.vendor == "postgresql":
        numbers = f"generate_series(1, {n}) AS n"
        sql = f"INSERT INTO {table} ({columns}) SELECT {values} FROM {numbers}"
    else:
        numbers = f"seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {n})"
        sql = f"WITH RECURSIVE {numbers} INSERT INTO {table} ({columns}) SELECT {values} FROM seq"
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [report.pk, stamp])
        report.n_lines = n
        report.save(update_fields=["n_lines"])
    analyze(Log)


def measure(client, url: str, polls: int) -> dict:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    queries, response = count_queries(client.get, url)
    times = [timed(client.get, url)[0] for _ in range(polls)]
    body = response.json()
    lines = body.get("lines", body.get("new_log_lines"))
    if len(lines) != NEW_LINES:
        raise RuntimeError(f"GET {url} gave {len(lines)} lines, not {NEW_LINES}")
    return {"ms": ms(median(times)), "bytes": len(response.content), "queries": queries}


def run(sizes, say) -> tuple[list[Row], dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from eztaskmanager.models import LaunchReport

    user = get_user_model().objects.create_superuser("bench-tail", "tail@example.com", "x")
    client = Client()
    client.force_login(user)
    task = make_task("bench_lines", "1, --verbosity 2", name="live tail")
    now = timezone.now()

    figures: dict[str, dict] = {}
    for n in sizes.tail_lines:
        report = LaunchReport.objects.create(task=task, started_at=now, invocation_result="")
        fill_log(report, n)
        url = reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk])
        have = n - NEW_LINES
        for form, query in (("after", f"after={have}"), ("offset", f"offset={have}")):
            figures[f"{form} {n}"] = measure(client, f"{url}?{query}", sizes.tail_polls)
            say(f"  tail poll ({form}), {n:,} lines: {figures[f'{form} {n}']}")

    small, large = sizes.tail_lines
    rows = []
    for form, label in (("after", "after=<last line>"), ("offset", "0.5.x offset=<n>")):
        at_small, at_large = figures[f"{form} {small}"], figures[f"{form} {large}"]
        ratio = at_large["ms"] / at_small["ms"]
        rows.append(
            Row(
                "live tail",
                f"poll {label}, {large:,} lines",
                at_large["ms"],
                "ms",
                f"{small} lines",
                at_small["ms"],
                ratio,
                "<= 2x",
                ratio <= 2.0,
                {
                    "bytes": at_large["bytes"],
                    "baseline_bytes": at_small["bytes"],
                    "queries": at_large["queries"],
                    "baseline_queries": at_small["queries"],
                },
            )
        )
        rows.append(
            Row(
                "live tail",
                f"poll {label}, {large:,} lines, bytes",
                at_large["bytes"],
                "bytes",
                f"{small} lines",
                at_small["bytes"],
                at_large["bytes"] / at_small["bytes"],
            )
        )
    return rows, figures
