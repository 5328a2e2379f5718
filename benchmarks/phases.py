"""Where a drained job spends its time, from RQ's own timestamps and the run's report.

For each job of a drain: RQ's ``started_at`` (set in the work horse just before it calls the
job's function) and ``ended_at`` (set in the horse just after the function returns); for a task
run also the report's ``started_at`` and ``finished_at``. The phases:

* job start -> report: from the job's start to the creation of the run's report (the task's
  SELECT, the report INSERT, the first commit);
* run: the report's own duration (lock, logging set-up, the command, the closing commit);
* report end -> job end: what follows the report's last write until the function returns;
* job: the whole function call (the three above for a task run);
* between jobs: from one job's end to the next job's start (the horse's result bookkeeping and
  exit, the worker's wait, dequeue and fork).

Means over the jobs of a drain, in milliseconds: unlike medians, they add up to the drain's
time (a few slow commits weigh in the total as they do in the drain).
"""

from __future__ import annotations

from statistics import fmean

from benchmarks.common import ms

PHASES = ("job start -> report", "run", "report end -> job end", "job", "between jobs")


def jobs_of_drain(queue) -> list:
    """The finished jobs of the last drain, in the order they started."""
    from rq.job import Job

    ids = queue.finished_job_registry.get_job_ids()
    jobs = [j for j in Job.fetch_many(ids, connection=queue.connection) if j is not None]
    jobs = [j for j in jobs if j.started_at and j.ended_at]
    return sorted(jobs, key=lambda j: j.started_at)


def gaps(jobs: list) -> list[float]:
    return [
        ms((later.started_at - earlier.ended_at).total_seconds())
        for earlier, later in zip(jobs, jobs[1:], strict=False)
    ]


def phases(queue, with_reports: bool) -> dict[str, float]:
    """Mean of each phase over the jobs of the last drain (``PHASES``; run phases if asked)."""
    from eztaskmanager.models import LaunchReport

    jobs = jobs_of_drain(queue)
    if not jobs:
        return {}
    figures = {
        "job": fmean(ms((j.ended_at - j.started_at).total_seconds()) for j in jobs),
        "between jobs": fmean(gaps(jobs)) if len(jobs) > 1 else 0.0,
    }
    if not with_reports:
        return figures
    reports = {
        r.rq_job_id: r
        for r in LaunchReport.objects.filter(rq_job_id__in=[j.id for j in jobs]).only(
            "rq_job_id", "started_at", "finished_at"
        )
    }
    before, run, after = [], [], []
    for job in jobs:
        report = reports.get(job.id)
        if report is None or report.finished_at is None:
            continue
        before.append(ms((report.started_at - job.started_at).total_seconds()))
        run.append(ms((report.finished_at - report.started_at).total_seconds()))
        after.append(ms((job.ended_at - report.finished_at).total_seconds()))
    if run:
        figures.update(
            {
                "job start -> report": fmean(before),
                "run": fmean(run),
                "report end -> job end": fmean(after),
            }
        )
    return figures
