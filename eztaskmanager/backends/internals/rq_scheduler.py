"""What the scheduler relies on in rq-scheduler beyond its documented helpers.

rq-scheduler documents ``enqueue_at``, ``schedule``, ``cancel`` and the ``rqscheduler``
command; eztaskmanager reads and writes its Redis data itself, because those helpers round due
times down to the second and build jobs without rq's ``on_stopped`` callback. What it relies on,
checked against the installed rq-scheduler by ``tests/test_internals.py``:

* ``Scheduler._interval``: the ``interval`` given to the constructor. 0.14 keeps it under this
  private name only (and derives its own key and lock expiries from it); the outage loop paces
  its passes with it. ``interval_of`` is the one place that reads it.
* The scheduled set, ``Scheduler.scheduled_jobs_key`` (a public class attribute): a sorted set
  whose members are job ids and whose scores are due times in Unix seconds. rq-scheduler writes
  whole seconds; we write exact ones (``due_score``), which its ``ZRANGEBYSCORE`` reads alike.
* A live scheduler's hash, ``Scheduler.redis_scheduler_namespace_prefix`` + its name (a public
  class attribute): ``register_birth`` writes ``birth`` and ``register_death`` ``death``, both
  Unix times; ``taskmanager status`` lists the hashes without ``death``.
* ``Scheduler.remove_lock()`` does nothing unless this scheduler holds the lock, and keeps
  holding it when its release fails: the outage loop calls it on every pass to release a lock
  whose release failed during an outage.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rq_scheduler import Scheduler

SCHEDULED_KEY = Scheduler.scheduled_jobs_key
INSTANCE_KEY_PREFIX = Scheduler.redis_scheduler_namespace_prefix


def interval_of(scheduler: Scheduler) -> float:
    """Seconds between two passes of ``scheduler`` (its constructor's ``interval``)."""
    return scheduler._interval


def due_score(when: datetime) -> float:
    """The score of a job due at ``when`` in the scheduled set."""
    return when.timestamp()


def due_time(score: float | bytes | str) -> datetime:
    """The due time a score of the scheduled set stands for."""
    return datetime.fromtimestamp(float(score), tz=UTC)
