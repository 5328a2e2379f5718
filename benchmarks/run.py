"""Run the benchmarks of django-eztaskmanager, print a table and write it as JSON.

    python benchmarks/run.py [--quick] [--db sqlite|postgres] [--sqlite-wal] [--only AREA,...]

Needs Redis at 127.0.0.1:6379 (or ``--redis``); the run claims a free Redis database number
(the same claim the test suite uses, so the two never share one) and creates a database of its
own, dropped at the end. Each figure is printed beside a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Module of each area, in the order they run (the heaviest last).
AREAS = {
    "ingestion": "log ingestion",
    "overhead": "per-run overhead",
    "end_to_end": "end-to-end",
    "task_calls": "django tasks",
    "lateness": "scheduling",
    "recovery": "recovery",
    "idle": "scheduling",
    "admin_pages": "admin",
    "live_tail": "live tail",
    "memory": "memory",
    "horse_memory": "horse memory",
}


# -- Redis database claim ---------------------------------------------------------------------

CLAIM_KEY = "eztaskmanager:tests:db:{}"  # shared with tests/settings.py


def claim_redis_db(base: str):
    """Claim a Redis db number nobody else uses; return its URL and a function releasing it.

    Numbers are tried from 14 down (the test suite tries from 1 up and falls back on 15).
    """
    import redis

    registry = redis.Redis.from_url(f"{base}/0", socket_connect_timeout=2)
    for number in range(14, 0, -1):
        key = CLAIM_KEY.format(number)
        if registry.set(key, f"benchmarks {os.getpid()}", nx=True, ex=6 * 3600):
            url = f"{base}/{number}"
            redis.Redis.from_url(url).flushdb()  # ours now: clear what a dead holder left

            def release(url=url, key=key):
                redis.Redis.from_url(url).flushdb()
                registry.delete(key)

            return url, release
    raise SystemExit("No free Redis database number (1-14) to claim.")


# -- machine ----------------------------------------------------------------------------------


def machine() -> dict:
    import django
    import django_rq
    import redis
    import rq
    from django.db import connection

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            import psycopg

            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0].split()[0]} (psycopg {psycopg.__version__})"
        else:
            cursor.execute("SELECT sqlite_version()")
            version = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode")
            db = f"SQLite {version} (file, journal {cursor.fetchone()[0]})"
    redis_info = django_rq.get_connection("default").info("server")
    return {
        "cpu": cpu or "unknown",
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": db,
        "redis": redis_info.get("redis_version"),
        "rq": rq.__version__,
        "redis_py": redis.__version__,
        "django_rq": getattr(django_rq, "__version__", ""),
    }


# -- table ------------------------------------------------------------------------------------


def fmt(value, unit: str) -> str:
    if value is None:
        return ""
    if unit == "lines/s":
        return f"{value:,.0f} lines/s"
    if unit in ("ms", "s"):
        return f"{value:.3f} {unit}" if value < 10 else f"{value:.1f} {unit}"
    if unit == "queries":
        return f"{value:g} {'query' if value == 1 else 'queries'}"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:g} {unit}"


def cells(row: dict) -> list[str]:
    if row.get("error"):
        return [row["area"], "(failed, see JSON)", "", "", "", "", "ERROR"]
    baseline = ""
    if row["baseline"]:
        baseline = f"{row['baseline']}: {fmt(row['baseline_value'], row['unit'])}"
    ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
    result = "" if row["passed"] is None else ("PASS" if row["passed"] else "MISS")
    return [
        row["area"],
        row["figure"],
        fmt(row["value"], row["unit"]),
        baseline,
        ratio,
        row["target"],
        result,
    ]


HEADER = ["area", "figure", "measured", "baseline (same run)", "ratio", "target", "result"]


def table(rows: list[dict]) -> str:
    """The results as a reStructuredText simple table (readable as plain text too)."""
    from benchmarks.common import rst_table

    return rst_table(HEADER, [cells(row) for row in rows])


# -- main -------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--sqlite-wal",
        action="store_true",
        help="SQLite in WAL mode with synchronous=NORMAL (the recommended deployment)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server URL")
    parser.add_argument("--only", default="", help=f"comma-separated areas: {', '.join(AREAS)}")
    parser.add_argument(
        "--json", default=str(ROOT / "benchmarks" / "results.json"), help="where to write JSON"
    )
    args = parser.parse_args(argv)
    areas = [a.strip() for a in args.only.split(",") if a.strip()] or list(AREAS)
    unknown = set(areas) - set(AREAS)
    if unknown:
        parser.error(f"unknown areas: {sorted(unknown)}")

    redis_url, release_redis = claim_redis_db(args.redis)
    os.environ["EZTM_BENCH_REDIS_URL"] = redis_url
    os.environ["EZTM_BENCH_DB"] = args.db
    if args.sqlite_wal:
        os.environ["EZTM_BENCH_SQLITE_WAL"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    try:
        return run_areas(args, areas)
    finally:
        release_redis()


def run_areas(args, areas: list[str]) -> int:
    import importlib

    import django

    django.setup()
    from django.db import connection

    from benchmarks.common import FULL, QUICK

    sizes = QUICK if args.quick else FULL

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    os.environ["EZTM_BENCH_DB_NAME"] = str(connection.settings_dict["NAME"])
    rows: list[dict] = []
    details: dict = {}
    started = datetime.now(UTC)
    try:
        info = machine()
        for area in areas:
            say(f"== {area}")
            module = importlib.import_module(f"benchmarks.{area}")
            clock = time.monotonic()
            try:
                area_rows, details[area] = module.run(sizes, say)
            except Exception as exc:  # report it and go on with the other areas
                say(traceback.format_exc())
                rows.append({"area": AREAS[area], "error": f"{type(exc).__name__}: {exc}"})
                continue
            rows.extend(row.as_dict() for row in area_rows)
            say(f"   ({time.monotonic() - clock:.0f} s)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB; Python {info['python']}, "
        f"Django {info['django']}, {info['database']}, Redis {info['redis']}, rq {info['rq']}"
        f"{', quick sizes' if args.quick else ''}"
    )
    print(table(rows))
    targets = [r for r in rows if r.get("passed") is not None or r.get("error")]
    missed = [r for r in targets if not r.get("passed")]
    print(f"\n{len(targets) - len(missed)} of {len(targets)} targets met.")
    result = {
        "started_at": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": info,
        "results": rows,
        "details": details,
    }
    Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    say(f"Written {args.json}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
