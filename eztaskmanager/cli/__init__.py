"""What ``manage.py taskmanager`` does: list, status, run, stop, resume, logs, load and export.

The management command only parses options and prints; the functions here find tasks, read
state and build the text or the JSON-ready data, so that tests and other tools can call them.
Problems a user can fix (an unknown name, Redis down) raise ``CommandError`` with a message.
"""

from __future__ import annotations

import difflib
import getpass
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.models import Max

from eztaskmanager import conf, operations
from eztaskmanager.backends import BackendError, get_backend
from eztaskmanager.backends.rq import RQBackend, location, problem
from eztaskmanager.core import bounds, dates, permissions, policy
from eztaskmanager.core.dates import local_iso
from eztaskmanager.models import LaunchReport, Log, Task
from eztaskmanager.notifications import log_url
from eztaskmanager.operations import audit
from eztaskmanager.runs import run_task
from eztaskmanager.web.reporting import QUEUED, RESULTS, RUNNING, line_dict, report_dict
from eztaskmanager.web.status import collect_status

Write = Callable[[str], None]

# The exit status when Redis or the database cannot be reached (1 is any other error, 2 a
# command line that does not parse, as argparse has it).
UNREACHABLE = 3


def unreachable(message: str) -> CommandError:
    """An error that exits with ``UNREACHABLE``."""
    return CommandError(message, returncode=UNREACHABLE)


def exit_code(exc: BackendError) -> int:
    """``UNREACHABLE`` when the backend could not be reached at all, else 1."""
    return UNREACHABLE if getattr(exc, "unreachable", False) else 1


def require_database() -> None:
    """Raise an ``UNREACHABLE`` error unless the database answers."""
    try:
        connections[DEFAULT_DB_ALIAS].ensure_connection()
    except (OperationalError, InterfaceError) as exc:
        raise unreachable(f"The database is not reachable: {exc}".strip()) from exc


def uses_redis() -> bool:
    """Whether the backend in use is RQ's (the ``immediate`` one needs no Redis)."""
    try:
        return isinstance(get_backend(), RQBackend)
    except BackendError:
        return True


def require_redis(queue_name: str | None = None) -> None:
    """Raise an ``UNREACHABLE`` error unless the Redis of queue ``queue_name`` answers (when
    the backend in use is RQ's)."""
    backend = RQBackend(queue_name) if queue_name else get_backend()
    if not isinstance(backend, RQBackend):
        return
    trouble = problem(backend.connection)
    if trouble:
        where = location(backend.connection).rsplit("/", 1)[0]
        raise unreachable(f"Redis at {where} is not reachable: {trouble}")


def local_text(value: datetime | None) -> str:
    """A datetime in the site's time zone, to the second; ``-`` for none."""
    return dates.local_text(value, zone=False)


def table(rows: list[list], headers: list[str]) -> str:
    """Rows as left-aligned columns under their headers."""
    cells = [headers] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def to_json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- finding a task --------------------------------------------------------------------------


def resolve_task(ref: str):
    """The task with id ``ref``, or else the one task named ``ref``."""

    ref = str(ref).strip()
    if bounds.has_nul(ref):  # PostgreSQL refuses it even in a query
        raise CommandError(f"No task has the id or name {ref!r}: {bounds.nul_message()}")
    tasks = Task.objects.select_related("command")
    if ref.isdigit():
        task = tasks.filter(pk=int(ref)).first()
        if task is not None:
            return task
    matches = list(tasks.filter(name=ref).order_by("pk")[:10])
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(task.pk) for task in matches)
        raise CommandError(
            f"{len(matches)} tasks are named {ref!r} (ids {ids}): give the id instead."
        )
    names = list(Task.objects.values_list("name", flat=True)[:5000])
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(n) for n in close)}?" if close else ""
    raise CommandError(f"No task has the id or name {ref!r}.{hint}")


def schedule_text(task) -> str:
    """The task's schedule in a few words."""
    if task.cron_expression:
        return f"cron {task.cron_expression}"
    if task.repetition_period and task.repetition_rate:
        unit = task.repetition_period + ("s" if task.repetition_rate != 1 else "")
        return f"every {task.repetition_rate} {unit}"
    if task.scheduling:
        return "once"
    return ""


def schedule_state(task) -> str | None:
    """``on``, ``paused``, ``done`` (a one-off that had its turn), ``pending`` (on, with no job
    yet: the scheduler's next sync applies it), or None for a task without a schedule."""
    if not task.is_scheduled:
        return None
    if task.schedule_done:
        return "done"
    if task.schedule_paused:
        return "paused"
    return "pending" if task.schedule_pending else "on"


# -- list ------------------------------------------------------------------------------------


def task_list() -> list[dict]:
    """Every task with its status, last result and next run (one query)."""

    return [
        {
            "id": task.pk,
            "name": task.name,
            "command": task.command.name,
            "arguments": task.arguments,
            "category": task.category.name if task.category_id else None,
            "status": task.status,
            "queue": task.queue or conf.get("QUEUE_NAME"),
            "schedule": schedule_text(task),
            "schedule_enabled": task.schedule_enabled,
            "schedule_state": schedule_state(task),
            "last_result": task.cached_last_invocation_result or None,
            "last_run": local_iso(task.cached_last_invocation_datetime),
            "next_run": local_iso(task.cached_next_ride),
            "schedule_error": task.schedule_error or None,
        }
        for task in Task.objects.select_related("command", "category").order_by("name", "pk")
    ]


def format_task_list(tasks: list[dict]) -> str:
    if not tasks:
        return "No tasks."
    rows = [
        [
            t["id"],
            t["name"],
            f"{t['status']} (schedule error: {t['schedule_error']})"
            if t["schedule_error"]
            else t["status"],
            t["last_result"] or "-",
            local_text(_parse(t["last_run"])),
            local_text(_parse(t["next_run"])),
            f"{t['schedule']} ({t['schedule_state']})"
            if t["schedule_state"] not in (None, "on")
            else t["schedule"] or "-",
            t["queue"],
        ]
        for t in tasks
    ]
    headers = ["ID", "NAME", "STATUS", "LAST RESULT", "LAST RUN", "NEXT RUN", "SCHEDULE", "QUEUE"]
    return table(rows, headers)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- status ----------------------------------------------------------------------------------


def status(connection=None) -> dict:
    return collect_status(connection=connection)


def processes_text(data: dict) -> list[str]:
    """Queues, workers and schedulers, as status lines."""
    out: list[str] = []
    out += ["", "Queues:"]
    rows = [[q["name"], q["queued"], q["started"], q["failed"]] for q in data["queues"]]
    out.append(_indent(table(rows, ["QUEUE", "QUEUED", "RUNNING", "FAILED"])))

    workers = data["workers"]
    out += ["", f"Workers alive: {len(workers)}"]
    if workers:
        rows = [
            [
                w["name"],
                w["hostname"],
                w["pid"],
                w["state"],
                ",".join(w["queues"]),
                w["current_job"] or "-",
                f"{w['heartbeat_age_seconds']:.0f} s ago"
                if w["heartbeat_age_seconds"] is not None
                else "-",
            ]
            for w in workers
        ]
        headers = ["NAME", "HOST", "PID", "STATE", "QUEUES", "CURRENT JOB", "HEARTBEAT"]
        out.append(_indent(table(rows, headers)))

    schedulers = data["schedulers"]
    out += ["", f"Schedulers alive: {len(schedulers)}"]
    if schedulers:
        rows = [
            [s["name"], local_text(_parse(s["started"])), local_text(_parse(s["last_heartbeat"]))]
            for s in schedulers
        ]
        out.append(_indent(table(rows, ["NAME", "STARTED", "LAST SEEN"])))
    elif data.get("scheduler_last_seen"):
        out.append(
            f"  No scheduler alive; the last one was seen "
            f"{local_text(_parse(data['scheduler_last_seen']))}"
        )
    return out


def format_status(data: dict) -> str:
    redis = data["redis"]
    out = [f"Time: {local_text(_parse(data['time']))}"]
    if redis["reachable"]:
        out.append(f"Redis {redis['location']}: reachable")
    else:
        out.append(f"Redis {redis['location']}: NOT REACHABLE ({redis['error']})")
    if redis["reachable"]:
        out += processes_text(data) + scheduled_jobs_text(data)

    paused = data.get("paused_schedules") or {"count": 0, "tasks": []}
    if paused["count"]:
        names = ", ".join(repr(t["task"]) for t in paused["tasks"])
        more = ", ..." if paused["count"] > len(paused["tasks"]) else ""
        out += ["", f"Paused schedules: {paused['count']} ({names}{more})"]

    runs = data["runs_24h"]
    out += [
        "",
        "Runs in the last 24 h: "
        + ", ".join(f"{result} {runs[result]}" for result in (*RESULTS, RUNNING, QUEUED)),
    ]
    running = data["running"]
    if running["count"]:
        out.append(
            f"Runs without a result: {running['count']}, the oldest started "
            f"{local_text(_parse(running['oldest_started']))}"
        )
    queued = data["queued"]
    if queued["count"]:
        out.append(
            f"Launches waiting for a worker: {queued['count']}, the oldest launched "
            f"{local_text(_parse(queued['oldest_started']))}"
        )
    return "\n".join(out)


def scheduled_jobs_text(data: dict) -> list[str]:
    """The scheduled jobs and the overdue firings of a status, as lines."""
    jobs = data["scheduled"]
    shown = f" (the next {len(jobs)})" if len(jobs) < data["scheduled_total"] else ""
    out = ["", f"Scheduled jobs: {data['scheduled_total']}{shown}"]
    if jobs:
        rows = [
            [local_text(_parse(j["next_run"])), j["task_id"] or "-", j["task"] or "-", j["job_id"]]
            for j in jobs
        ]
        out.append(_indent(table(rows, ["NEXT RUN", "TASK ID", "TASK", "JOB"])))
    late = data.get("overdue_firings") or []
    if late:
        out += ["", f"OVERDUE FIRINGS (due, not sent): {data['overdue_firings_total']}"]
        rows = [
            [
                local_text(_parse(f["due"])),
                f"{f['late_seconds']:.0f} s",
                f["task_id"] or "-",
                f["task"] or "-",
                f["job_id"],
            ]
            for f in late
        ]
        out.append(_indent(table(rows, ["DUE", "LATE", "TASK ID", "TASK", "JOB"])))
    return out


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# -- run and stop ----------------------------------------------------------------------------


def operator(username: str | None = None):
    """Who the command line acts as: the active user ``username`` (who must be allowed to
    launch tasks), or the ``cli`` actor (the operator at the shell) when none is given."""
    try:
        user = audit.operator(username)
    except LookupError as exc:
        raise CommandError(str(exc)) from exc
    if username and not permissions.may_launch(user):
        raise CommandError(f"{username!r} may not launch or stop tasks.")
    return user


def launch(ref: str, user: str | None = None, arguments: str | None = None) -> str:
    """Launch the task through the operations layer, as ``user``; say what happened.

    With ``arguments``, it runs once with those instead of its own.
    """
    who = operator(user)
    task = runnable_task(ref)
    try:
        outcome = operations.launch(task, get_backend(), user=who, arguments=arguments)
    except BackendError as exc:
        raise CommandError(
            f"{task.name!r} was not launched: {exc}", returncode=exit_code(exc)
        ) from exc
    if outcome.report is not None:
        report = outcome.report
        return (
            f"Ran {task.name!r}: report {report.pk}, result {report.invocation_result}.\n"
            f"Log: {log_address(report)}"
        )
    report = LaunchReport.objects.filter(rq_job_id=outcome.job_id).order_by("-pk").first()
    if report is None:  # a backend that keeps no queued report
        return f"Queued {task.name!r} (task {task.pk}) for a worker as job {outcome.job_id}."
    return (
        f"Queued {task.name!r} (task {task.pk}) for a worker as job {outcome.job_id}: "
        f"report {report.pk}.\n"
        f"Log: {log_address(report)}\n"
        f"Follow it here with: taskmanager logs {report.pk} --follow"
    )


def log_address(report) -> str:
    """The live log's URL: absolute with ``EZTASKMANAGER_BASE_URL``, its path otherwise."""
    return log_url(report) or "-"


def runnable_task(ref: str):
    """The task ``ref`` names, when the command policy allows its command."""
    task = resolve_task(ref)
    refused = policy.refusal_explained(task.command)
    if refused:
        raise CommandError(f"{task.name!r} was not launched: {refused}")
    return task


def run_in_foreground(
    ref: str, write: Write, poll_interval: float = 0.5, user=None, arguments: str | None = None
):
    """Run the task in this process, echoing its log lines as they are stored; the report.

    The lines are read back from the database, so what is printed is what the report holds.
    With ``arguments``, it runs once with those instead of its own.
    """

    who = operator(user)
    task = runnable_task(ref)
    if arguments is not None:
        try:
            operations.check_arguments(task, arguments)
        except operations.BadArguments as exc:
            raise CommandError(f"{task.name!r} was not launched: {exc}") from exc
    message = operations.launch_message(arguments, None)
    operations.record(task, who, f"{message} in the foreground from the command line")
    previous = LaunchReport.objects.filter(task=task).aggregate(last=Max("id"))["last"] or 0
    state = {"report": None, "last": 0}
    stop = threading.Event()

    def echo_while_running():
        try:
            while not stop.wait(poll_interval):
                if state["report"] is None:
                    state["report"] = (
                        LaunchReport.objects.filter(task=task, pk__gt=previous)
                        .values_list("pk", flat=True)
                        .order_by("pk")
                        .first()
                    )
                if state["report"] is not None:
                    state["last"] = echo_lines(state["report"], state["last"], write)
        except Exception:  # the final read prints whatever this one missed
            pass
        finally:
            connections.close_all()

    watcher = threading.Thread(target=echo_while_running, name="eztaskmanager-echo", daemon=True)
    watcher.start()
    try:
        report = run_task(task.pk, arguments=arguments)
    except KeyboardInterrupt as exc:
        raise CommandError(f"Interrupted: the run of {task.name!r} is recorded as failed.") from exc
    finally:
        stop.set()
        watcher.join()
    if report is None:
        raise CommandError(f"Task {ref!r} is gone.")
    last = state["last"] if state["report"] == report.pk else 0
    echo_lines(report.pk, last, write)
    return report


def echo_lines(report_id: int, after: int, write: Write, as_json: bool = False) -> int:
    """Write the lines of a report after line ``after``; return the last line number written."""

    while True:
        chunk = list(
            Log.objects.filter(launch_report_id=report_id, lineno__gt=after).order_by("lineno")[
                :2000
            ]
        )
        for log in chunk:
            if as_json:
                write(json.dumps(line_dict(log), ensure_ascii=False))
            else:
                write(log.formatted())
        if not chunk:
            return after
        after = chunk[-1].lineno


def plural(n: int, word: str) -> str:
    """``1 line``, ``2 lines``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def report_summary(report) -> str:
    result = report.invocation_result or "no result yet"
    duration = f", {report.duration:.1f} s" if report.duration is not None else ""
    text = (
        f"Run {report.pk} of {report.task.name!r}: {result} ({plural(report.n_lines, 'line')}, "
        f"{plural(report.n_errors, 'error')}, {plural(report.n_warnings, 'warning')}{duration})"
    )
    if report.failure_reason:
        text += f"\nFailure: {report.failure_reason}"
    return text


def stop(ref: str, user: str | None = None) -> str:
    """Stop the task: its schedule, its queued runs and its run in progress."""
    who = operator(user)
    task = resolve_task(ref)
    by = f"{user or _user()} (command line)"
    try:
        outcome = operations.stop(task, by, get_backend(), user=who)
    except BackendError as exc:
        raise CommandError(
            f"{task.name!r} was not stopped: {exc}", returncode=exit_code(exc)
        ) from exc
    runs = f"; {outcome.stopped_runs} running run(s) asked to stop" if outcome.stopped_runs else ""
    paused = "schedule paused" if task.is_scheduled else "no schedule"
    return f"Stopped {task.name!r}: {paused}, queued runs dropped{runs}."


def resume(ref: str, user: str | None = None) -> str:
    """Turn the task's paused schedule back on and apply it."""
    who = operator(user)
    task = resolve_task(ref)
    if not task.is_scheduled:
        raise CommandError(f"{task.name!r} has no schedule to resume.")
    by = f"{user or _user()} (command line)"
    try:
        outcome = operations.resume(task, get_backend(), user=who, by=by)
    except BackendError as exc:
        if task.schedule_enabled and getattr(exc, "unreachable", False):
            raise CommandError(
                f"{task.name!r} is resumed, but its schedule was not applied: {exc}. "
                "The scheduler applies it once the task queue is reachable."
            ) from exc
        raise CommandError(f"{task.name!r} was not resumed: {exc}") from exc
    return f"Resumed {task.name!r}: next run at {local_text(outcome.when)}."


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown user"


# -- logs ------------------------------------------------------------------------------------


def logs(
    report_id: int,
    write: Write,
    follow: bool = False,
    as_json: bool = False,
    poll_interval: float = 0.5,
):
    """Write the report's lines; with ``follow``, keep reading until the run has a result."""

    report = LaunchReport.objects.select_related("task").filter(pk=report_id).first()
    if report is None:
        raise CommandError(f"No launch report has the id {report_id}.")
    last = 0
    while True:
        # The result is read before the lines: a run writes its last lines, then its result.
        report.refresh_from_db()
        last = echo_lines(report.pk, last, write, as_json=as_json)
        if not follow or report.is_finished:
            break
        time.sleep(poll_interval)
    if as_json:
        write(json.dumps({"report": report_dict(report)}, ensure_ascii=False))
    else:
        write(report_summary(report))
    return report
