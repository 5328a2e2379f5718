"""The claim of a firing (``RQBackend.claim``) against the real Redis, over sub-second due times.

A claim compares the due time the scheduler read with the stored one as numbers: the text a
client gets for a score (``1.7963627151827545e+9`` through redis-py 8's RESP3 parser) and the
text of ZSCORE (``1796362715.1827545``) differ for most due times with a fraction of a second.
"""

from __future__ import annotations

import math
import random

import fakeredis
import pytest

from eztaskmanager.backends.rq import OVERDUE_KEY, SCHEDULED_KEY, RQBackend, score_text

N = 2000


def random_scores(seed: int) -> list[float]:
    """Due times over the next years, with millisecond and microsecond fractions."""
    rng = random.Random(seed)
    base = 1_700_000_000
    scores = set()
    while len(scores) < N:
        seconds = base + rng.randrange(0, 200_000_000)
        fraction = rng.randrange(1000) / 1000 if rng.random() < 0.5 else rng.random()
        if rng.random() < 0.5:
            fraction = rng.randrange(1_000_000) / 1_000_000
        scores.add(seconds + fraction)
    return sorted(scores)


def fill(connection, scores: list[float]) -> dict[str, float]:
    jobs = {f"eztm-{index}-x": score for index, score in enumerate(scores)}
    connection.zadd(SCHEDULED_KEY, jobs)
    return jobs


def test_every_claim_of_a_score_read_by_the_client_wins_once(real_redis):
    """Scores as redis-py's ZRANGEBYSCORE WITHSCORES gives them, as text and as floats."""
    backend = RQBackend(connection=real_redis)
    jobs = fill(real_redis, random_scores(1))
    read = real_redis.zrangebyscore(
        SCHEDULED_KEY, "-inf", "+inf", withscores=True, score_cast_func=bytes.decode
    )
    assert len(read) == N
    as_floats = dict(real_redis.zrangebyscore(SCHEDULED_KEY, "-inf", "+inf", withscores=True))
    for index, (raw_id, text) in enumerate(read):
        # Half the claims with the client's text, half with its float.
        score = text if index % 2 else as_floats[raw_id]
        job_id = raw_id.decode()
        following = jobs[job_id] + 60.001
        assert backend.claim(job_id, score, following) == 1, (job_id, text)
        assert backend.claim(job_id, score, following + 60) == 0, (job_id, text)
        assert real_redis.zscore(SCHEDULED_KEY, job_id) == following
    assert real_redis.zcard(SCHEDULED_KEY) == N


def test_every_claim_of_a_score_read_by_due_firings_wins_once(real_redis):
    backend = RQBackend(connection=real_redis)
    jobs = fill(real_redis, random_scores(2))
    due = backend.due_firings(max(jobs.values()))
    assert [job_id for job_id, _ in due] == list(jobs)  # earliest first, all of them
    for job_id, text in due:
        assert float(text) == jobs[job_id]
        assert backend.claim(job_id, text, None) == 1, (job_id, text)
        assert backend.claim(job_id, text, None) == 0, (job_id, text)
    assert real_redis.zcard(SCHEDULED_KEY) == 0  # no next due time: out of the set


def test_a_claim_loses_against_another_due_time_and_tells_an_overdue_firing(real_redis):
    backend = RQBackend(connection=real_redis)
    real_redis.zadd(SCHEDULED_KEY, {"eztm-1-a": 1796362715.1827545})
    one_off = math.nextafter(1796362715.1827545, 0)  # the next double down: not that time
    assert backend.claim("eztm-1-a", one_off, None) == 0
    assert backend.claim("eztm-1-a", "not a number", None) == 0
    assert backend.claim("eztm-2-a", 1796362715.1827545, None) == 0  # not in the set
    [(job_id, text)] = backend.due_firings(1796362716)
    assert backend.mark_overdue(job_id, text)
    assert not backend.mark_overdue(job_id, "1.7963627151827545e+9")  # the same time: once
    assert backend.claim(job_id, "1.7963627151827545e+9", "1796362775.5") == 2
    assert real_redis.hlen(OVERDUE_KEY) == 0  # the claim took the mark away


def test_marks_of_firings_no_longer_due_at_their_time_are_cleared(real_redis):
    backend = RQBackend(connection=real_redis)
    real_redis.zadd(SCHEDULED_KEY, {"eztm-1-a": 100.25, "eztm-2-a": 200.5, "eztm-3-a": 300.125})
    for job_id, text in backend.due_firings(1000):
        backend.mark_overdue(job_id, text)
    real_redis.zadd(SCHEDULED_KEY, {"eztm-2-a": 260.5})  # moved on
    real_redis.zrem(SCHEDULED_KEY, "eztm-3-a")  # gone
    assert sorted(backend.clear_overdue()) == [("eztm-2-a", 200.5), ("eztm-3-a", 300.125)]
    assert backend.clear_overdue() == []
    assert list(real_redis.hkeys(OVERDUE_KEY)) == [b"eztm-1-a"]


@pytest.mark.parametrize("value", [1796362715.1827545, 0.1, 1e-7, 1234567890.000001])
def test_score_text_reads_back_as_the_same_number(value):
    assert float(score_text(value)) == value
    assert score_text(b"1.5") == "1.5" and score_text("2.5") == "2.5"


def test_the_claim_runs_on_fakeredis_too():
    """The fast unit tests use fakeredis: the scripts must run there."""
    connection = fakeredis.FakeRedis()
    backend = RQBackend(connection=connection)
    connection.zadd(SCHEDULED_KEY, {"eztm-1-a": 1796362715.1827545})
    [(job_id, text)] = backend.due_firings(1796362716)
    assert backend.mark_overdue(job_id, text)
    assert backend.claim(job_id, "1.7963627151827545e+9", None) == 2
    assert backend.claim(job_id, text, None) == 0
