"""Watching for a missing scheduler: the notification handlers hear it once, and once more when
a scheduler runs again.

Every scheduler stamps when it was last seen (``scheduler/process.py``). ``TaskWorker``s look
at that stamp every ``CHECK_EVERY`` seconds; the first worker that finds none newer than
``EZTASKMANAGER_SCHEDULER_MISSING_SECONDS`` sets a flag in Redis (one atomic SET NX, so many
workers send one warning) and sends the warning. The next scheduler heartbeat deletes the flag,
and the scheduler that deleted it sends the all-clear.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from eztaskmanager import conf
from eztaskmanager.backends import rq as rq_backend
from eztaskmanager.core import dates
from eztaskmanager.notifications import send_alert

logger = logging.getLogger(__name__)

CHECK_EVERY = 30.0  # seconds between two looks of a worker


def check_scheduler(connection, watching_since: float, now: float | None = None) -> bool:
    """Warn the handlers when no scheduler was seen for too long; True if this call warned.

    ``watching_since`` (Unix time) stands for the last sighting when no scheduler was ever
    seen: a worker that started alone waits the same time before it warns.
    """
    limit = conf.get("SCHEDULER_MISSING_SECONDS")
    if not limit:
        return False
    now = time.time() if now is None else now
    seen = rq_backend.last_scheduler_seen(connection)
    since = seen if seen is not None else watching_since
    if now - since < limit:
        return False
    if not rq_backend.flag_scheduler_missing(connection):
        return False  # already warned, by this worker or another
    logger.warning("No scheduler seen for %.0f s: scheduled tasks do not run", now - since)
    send_alert(*missing_message(seen, now - since))
    return True


def missing_message(seen: float | None, seconds: float) -> tuple[str, str]:
    when = "never" if seen is None else local_text(seen)
    return (
        f"No scheduler seen for {seconds:.0f} s",
        "No `taskmanager scheduler` process has stamped itself in Redis for "
        f"{seconds:.0f} s (last seen: {when}). Scheduled tasks, retries and the sweep of lost "
        "launches wait until one runs again; launches from the admin still run.",
    )


def scheduler_back() -> None:
    """A scheduler deleted the missing-scheduler flag: tell the handlers it runs again."""
    logger.info("A scheduler runs again")
    send_alert(
        "A scheduler runs again",
        "A `taskmanager scheduler` process is running again: scheduled tasks go on.",
    )


def local_text(stamp: float) -> str:
    return dates.local_text(datetime.fromtimestamp(stamp, tz=UTC))
