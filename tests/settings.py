"""Settings for the test suite.

The database comes from ``EZTM_TEST_DB`` (``sqlite``, the default, or ``postgres``) and Redis from
``EZTM_REDIS_URL``; worker subprocesses started by the integration tests read the same variables
plus ``EZTM_DB_NAME``, the name of the test database the parent process created, and
``EZTM_REDIS_SENTINELS`` / ``EZTM_REDIS_MASTER_NAME`` when a failover test runs them against a
Redis Sentinel.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Europe/Rome"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "eztaskmanager",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_db_kind = os.environ.get("EZTM_TEST_DB", "sqlite")
if _db_kind == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("EZTM_DB_NAME", "test"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "TEST": {"NAME": os.environ.get("EZTM_PG_TEST_NAME", f"test_eztm_{os.getpid()}")},
        }
    }
else:
    # A file, not memory: worker subprocesses must see the same database.
    _sqlite_name = os.environ.get("EZTM_DB_NAME") or str(
        Path(os.environ.get("EZTM_TMPDIR", "/tmp")) / f"eztm-test-{os.getpid()}.sqlite3"
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite_name,
            "TEST": {"NAME": _sqlite_name},
            "OPTIONS": {"timeout": 30},
        }
    }


def _claim_redis_db() -> str:
    """Claim a Redis db number no other test run is using, so runs never see each other."""
    import atexit

    import redis

    base = os.environ.get("EZTM_REDIS_BASE_URL", "redis://127.0.0.1:6379")
    try:
        lock = redis.Redis.from_url(f"{base}/0", socket_connect_timeout=1)
        for number in range(1, 16):
            key = f"eztaskmanager:tests:db:{number}"
            if lock.set(key, os.getpid(), nx=True, ex=3 * 3600):
                atexit.register(lock.delete, key)
                redis.Redis.from_url(f"{base}/{number}").flushdb()
                return f"{base}/{number}"
    except redis.RedisError:
        pass  # no Redis: only the fakeredis tier can run
    return f"{base}/15"


# Claimed once by the test process and inherited by the worker subprocesses it starts.
REDIS_URL = os.environ.get("EZTM_REDIS_URL") or _claim_redis_db()
os.environ["EZTM_REDIS_URL"] = REDIS_URL
# "high", "low" and "quick": per-task queues, priorities and isolation (test_queues_real_redis).
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in ("default", "high", "low", "quick")
}
# Failover tests point their subprocesses at a Redis Sentinel ("host:port,host:port").
if os.environ.get("EZTM_REDIS_SENTINELS"):
    RQ_QUEUES = {
        "default": {
            "SENTINELS": [
                (host, int(port))
                for host, port in (
                    item.rsplit(":", 1) for item in os.environ["EZTM_REDIS_SENTINELS"].split(",")
                )
            ],
            "MASTER_NAME": os.environ.get("EZTM_REDIS_MASTER_NAME", "eztm"),
            "DB": 0,
            "DEFAULT_TIMEOUT": 600,
        }
    }

EZTASKMANAGER_QUEUE_SERVICE_TYPE = os.environ.get("EZTM_QUEUE_SERVICE_TYPE", "RQ")
EZTASKMANAGER_BASE_URL = "http://testserver"
# Reports kept per task; a test that counts more runs than that raises it for its processes.
EZTASKMANAGER_N_REPORTS_INLINE = int(os.environ.get("EZTM_N_REPORTS_INLINE", "10"))
# Short reliability periods so dead runs are found within seconds in tests.
EZTASKMANAGER_HEARTBEAT_SECONDS = 0.5
EZTASKMANAGER_ORPHAN_AFTER_SECONDS = 3
EZTASKMANAGER_SHUTDOWN_GRACE_SECONDS = 3
EZTASKMANAGER_SWEEP_SECONDS = 1
# WarmTaskWorker replaces its resident horse after this many runs / past this memory.
EZTASKMANAGER_HORSE_MAX_RUNS = int(os.environ.get("EZTM_HORSE_MAX_RUNS", "3"))
EZTASKMANAGER_HORSE_MAX_MEMORY_MB = int(os.environ.get("EZTM_HORSE_MAX_MEMORY_MB", "512"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"eztaskmanager": {"handlers": ["console"], "level": "WARNING"}},
}

# Django's task API (Django 6, or 5.2 with django-tasks): @task functions of tests.testapp run
# through eztaskmanager.
TASKS = {
    "default": {
        "BACKEND": "eztaskmanager.tasks.Backend",
        "QUEUES": [name for name in ("default", "high") if name in RQ_QUEUES],
    }
}
