"""How many firings the scheduler's claim wins, for due times with and without fractions.

    python benchmarks/claims.py [--n 2000] [--redis redis://127.0.0.1:6379]

For each kind of due time (whole seconds, milliseconds, microseconds) it stores ``--n`` due
jobs in a scheduled set, reads them back as the scheduler does and claims each one, twice:

* baseline: the claim of 0.6.0.dev0, which read the due jobs with ``ZRANGEBYSCORE ...
  WITHSCORES`` through the installed redis-py and compared, inside its Lua script, that text
  with ``ZSCORE``'s text;
* ours: ``RQBackend.due_firings`` and ``RQBackend.claim`` (the due times read by a script and
  compared as numbers).

It prints the share of claims won (every due job should be won once) and the share a second
claim wins (it should win none). Needs no Django database: only Redis.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

# The claim as 0.6.0.dev0 wrote it: the score compared as text.
TEXT_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or score ~= ARGV[2] then
    return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""

KINDS = {
    "whole seconds": lambda base, i: float(base + i),
    "milliseconds": lambda base, i: round(base + i + random.random(), 3),
    "microseconds": lambda base, i: round(base + i + random.random(), 6),
}


def due_times(kind: str, n: int) -> list[float]:
    base = int(time.time()) - 10 * n  # all due now
    return [KINDS[kind](base, i) for i in range(n)]


def fill(connection, key: str, times: list[float]) -> None:
    connection.delete(key)
    connection.zadd(key, {f"job-{i}": when for i, when in enumerate(times)})


def baseline(connection, key: str, times: list[float]) -> tuple[int, int]:
    """Claims won by the text comparison, then by a second try of each."""
    fill(connection, key, times)
    claim = connection.register_script(TEXT_CLAIM)
    due = connection.zrangebyscore(
        key, "-inf", time.time(), withscores=True, score_cast_func=bytes.decode
    )
    won = sum(claim(keys=[key], args=[raw.decode(), score]) for raw, score in due)
    again = sum(claim(keys=[key], args=[raw.decode(), score]) for raw, score in due)
    return won, again


def ours(backend, times: list[float]) -> tuple[int, int]:
    from eztaskmanager.backends.rq import SCHEDULED_KEY

    fill(backend.connection, SCHEDULED_KEY, times)
    due = backend.due_firings(time.time())
    won = sum(1 for job_id, score in due if backend.claim(job_id, score, None))
    again = sum(1 for job_id, score in due if backend.claim(job_id, score, None))
    return won, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="due jobs per kind (2000)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis, without a db")
    options = parser.parse_args()

    from benchmarks.run import claim_redis_db

    url, release = claim_redis_db(options.redis)
    os.environ["EZTM_BENCH_REDIS_URL"] = url
    try:
        import django

        django.setup()
        import redis

        from eztaskmanager.backends.rq import RQBackend

        connection = redis.Redis.from_url(url)
        backend = RQBackend(connection=connection)
        server = connection.info("server")["redis_version"]
        print(f"redis-py {version('redis')}, Redis server {server}, {options.n} due jobs a kind")
        print(f"{'due times':<16}{'baseline won':>14}{'ours won':>10}{'second claim':>14}")
        for kind in KINDS:
            times = due_times(kind, options.n)
            old, _ = baseline(connection, "eztaskmanager:bench:claims", times)
            new, again = ours(backend, times)
            print(
                f"{kind:<16}{old / options.n:>13.1%}{new / options.n:>10.1%}"
                f"{again / options.n:>14.1%}"
            )
    finally:
        release()


if __name__ == "__main__":
    main()
