"""PostgreSQL restarted while a run logs a line every half second.

It restarts the machine's PostgreSQL cluster (``pg_ctlcluster``), so it runs only on PostgreSQL,
as root, and brings the cluster back before it ends whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from django.db import connection

from eztaskmanager import operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import LaunchReport
from tests.integration.conftest import (
    WARM_TASK_WORKER_CLASS,
    in_both_worker_modes,
    rqworker,
    wait_for,
)
from tests.integration.test_warm_horse import connections_opened, run

DOWN_SECONDS = 4


def cluster_of_this_database() -> list[str] | None:
    """``[version, name]`` of the local cluster serving the test database, if we may restart it."""
    if connection.vendor != "postgresql" or os.geteuid() != 0:
        return None
    if not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        return None
    port = str(connection.settings_dict["PORT"] or 5432)
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == port:
            return fields[:2]
    return None


def database_answers() -> bool:
    try:
        connection.close()
        connection.ensure_connection()
    except Exception:
        return False
    return True


@pytest.fixture
def cluster():
    found = cluster_of_this_database()
    if found is None:
        pytest.skip(
            "restarting the database needs PostgreSQL on a local cluster, root and pg_ctlcluster"
        )
    yield found
    subprocess.run(["pg_ctlcluster", *found, "start"], capture_output=True, check=False)
    wait_for(database_answers, interval=0.5, what="PostgreSQL back")


def restart(cluster, down_seconds: float = DOWN_SECONDS) -> None:
    subprocess.run(["pg_ctlcluster", *cluster, "stop", "-m", "fast"], check=True)
    time.sleep(down_seconds)
    subprocess.run(["pg_ctlcluster", *cluster, "start"], check=True)
    wait_for(database_answers, interval=0.5, what="PostgreSQL back")


@in_both_worker_modes
def test_a_run_keeps_its_lines_through_a_database_restart(
    processes, make_task, cluster, worker_class
):
    task = make_task("eztm_lines", "30, --pause 0.5, --level warning", name="logging")
    operations.launch(task, RQBackend(), defer=False)
    worker = processes.start(*rqworker(worker_class))
    scheduler = processes.start("taskmanager", "scheduler", "--interval", "0.2")
    wait_for(
        lambda: LaunchReport.objects.filter(task=task, n_lines__gte=4).exists(),
        what="the run to log its first lines",
        interval=0.2,
    )

    restart(cluster)

    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="the run to end",
    )
    assert (report.invocation_result, report.failure_reason) == ("warnings", "")
    assert (report.ending, report.reactions_pending) == ("finished", False)
    assert report.n_lines == 30
    assert sorted(report.logs.values_list("lineno", flat=True)) == list(range(1, 31))
    assert worker.poll() is None and scheduler.poll() is None


def test_a_warm_horse_runs_on_after_a_database_restart_while_it_waited(
    processes, rq_service, make_task, cluster
):
    """The resident horse keeps its connection between runs; one broken while it waited is
    replaced before the next run, which runs in the same horse."""
    processes.start(*rqworker(WARM_TASK_WORKER_CLASS))
    before, pid, _ = run(rq_service, make_task)
    assert before.invocation_result == "warnings"

    restart(cluster, down_seconds=1)

    after, after_pid, _ = run(rq_service, make_task)
    assert (after.invocation_result, after.failure_reason) == ("warnings", "")
    assert after_pid == pid
    assert connections_opened(after) == connections_opened(before) + 1
