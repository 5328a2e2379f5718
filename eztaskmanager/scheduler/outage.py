"""Keep the scheduler looping through a Redis outage (a restart, a Sentinel failover).

rq-scheduler's own loop ends at the first ``ConnectionError``; under a Sentinel the master is
away for a few seconds while the replica is promoted, and a scheduler that quits then needs a
supervisor to come back. ``run_through_outages`` runs the same steps (heartbeat, lock, enqueue)
but waits and retries with a capped backoff, logging one line when Redis goes away and one when
it is back.
"""

from __future__ import annotations

import logging
import signal
import time

from eztaskmanager.backends.internals.rq_scheduler import interval_of
from eztaskmanager.backends.rq import RedisConnectionError, RedisTimeoutError
from eztaskmanager.runs.dbretry import DATABASE_DOWN, reconnect

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
OUTAGES = REDIS_DOWN + DATABASE_DOWN


class Backoff:
    """Delays of a retry loop: ``first``, doubled each time, never above ``cap``."""

    def __init__(self, first: float = 0.2, cap: float = 2.0):
        self.first = first
        self.cap = cap
        self.failures = 0
        self.since: float | None = None
        self.what = "Redis"  # what the current outage is of

    def failed(self) -> float:
        """Record a failure; return how long to wait before the next try."""
        if self.since is None:
            self.since = time.monotonic()
        self.failures += 1
        return min(self.first * 2 ** (self.failures - 1), self.cap)

    def succeeded(self) -> float | None:
        """Record a success; return the length of the outage it ends, if there was one."""
        if self.since is None:
            return None
        lasted = time.monotonic() - self.since
        self.failures = 0
        self.since = None
        return lasted


def run_through_outages(scheduler, burst: bool = False, backoff: Backoff | None = None) -> None:
    """rq-scheduler's ``Scheduler.run`` loop, retried while Redis cannot be reached."""
    backoff = backoff or Backoff(first=min(interval_of(scheduler), 1.0))
    _install_stop_handlers()
    _until_redis_answers(scheduler.register_birth, backoff)
    try:
        while True:
            started = time.time()
            try:
                looked = _one_pass(scheduler)
            except OUTAGES as exc:
                _wait_after(exc, backoff)
                if hasattr(scheduler, "during_outage"):
                    scheduler.during_outage()
                continue
            except Exception:  # a bug of one pass must not end the scheduling of every task
                if burst:
                    raise
                logger.exception("Scheduler pass failed; trying again in %.1f s", backoff.cap)
                time.sleep(backoff.cap)
                continue
            lasted = backoff.succeeded()
            if lasted is not None:
                logger.warning(
                    "%s reachable again after %.1f s; scheduling goes on", backoff.what, lasted
                )
                if hasattr(scheduler, "after_outage"):
                    scheduler.after_outage()
            if burst and looked:
                return
            try:
                pause(scheduler, started)
            except OUTAGES as exc:
                _wait_after(exc, backoff)
    finally:
        try:
            scheduler.remove_lock()
            scheduler.register_death()
        except REDIS_DOWN:
            pass  # the scheduler's key expires by itself


def pause(scheduler, started: float) -> None:
    """Wait before the next pass: until the next due time or a schedule change when the
    scheduler can block on Redis for it, else what remains of its interval."""
    left = max(interval_of(scheduler) - (time.time() - started), 0)
    if hasattr(scheduler, "wait_for_work"):
        scheduler.wait_for_work(left)
    else:
        time.sleep(left)


def _install_stop_handlers() -> None:
    # rq-scheduler's own handlers write to Redis first: during an outage that raises a
    # ConnectionError, which the retry loop would take for one more failure and go on.
    # A second signal while it stops (Ctrl-C reaches the whole process group, and a process
    # manager such as ``taskmanager devserver`` sends its own SIGTERM too) must not cut the
    # cleanup short: a scheduler that never registers its death stays listed as alive.
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        if stopping:
            logger.info("Scheduler already stopping (signal %s)", signum)
            return
        stopping = True
        logger.info("Scheduler stopping (signal %s)", signum)
        raise SystemExit()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _one_pass(scheduler) -> bool:
    """One round of the loop; True when it held the lock and looked for due jobs."""
    # A no-op unless this scheduler still holds the lock: its release failed when Redis went
    # away, and the promoted replica may still hold it.
    scheduler.remove_lock()
    scheduler.heartbeat()
    if not scheduler.acquire_lock():
        return False
    try:
        scheduler.enqueue_jobs()
        scheduler.heartbeat()
    finally:
        try:
            scheduler.remove_lock()
        except REDIS_DOWN:
            # Release it on the next pass, or it blocks every scheduler until it expires.
            pass
    return True


def _until_redis_answers(step, backoff: Backoff) -> None:
    while True:
        try:
            step()
        except REDIS_DOWN as exc:
            _wait_after(exc, backoff)
        else:
            return


def _wait_after(exc: Exception, backoff: Backoff) -> None:
    delay = backoff.failed()
    what = "Redis"
    if isinstance(exc, DATABASE_DOWN):
        what = "Database"
        reconnect()  # the next pass opens a new connection
    backoff.what = what
    if backoff.failures == 1:
        logger.warning("%s unreachable (%s); retrying every %.1f s at most", what, exc, backoff.cap)
    time.sleep(delay)
