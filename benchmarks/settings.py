"""Django settings of the benchmarks.

``benchmarks/run.py`` fills the environment before Django starts, and the worker and scheduler
processes it starts inherit it:

* ``EZTM_BENCH_DB``: ``sqlite`` (default, a file so that subprocesses share it) or ``postgres``;
* ``EZTM_BENCH_DB_NAME``: the database file or name, created for one benchmark run;
* ``EZTM_BENCH_SQLITE_WAL``: set (by ``--sqlite-wal``) to open SQLite in WAL mode;
* ``EZTM_BENCH_REDIS_URL``: the Redis database the run claimed.
"""

import os
import tempfile
from importlib.util import find_spec
from pathlib import Path

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "eztaskmanager",
    "benchmarks.benchapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "benchmarks.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

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

# Users are made with force_login: no need for a slow hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_db_kind = os.environ.get("EZTM_BENCH_DB", "sqlite")
if _db_kind == "postgres":
    _name = os.environ.get("EZTM_BENCH_DB_NAME", f"eztm_bench_{os.getpid()}")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "TEST": {"NAME": _name},
            # The connection starts in UTC, so Django need not send SET TIME ZONE on each new
            # connection (as Django's PostgreSQL notes advise; see docs/operations.rst).
            "OPTIONS": {"options": "-c timezone=UTC"},
        }
    }
else:
    _name = os.environ.get("EZTM_BENCH_DB_NAME") or str(
        Path(tempfile.gettempdir()) / f"eztm-bench-{os.getpid()}.sqlite3"
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _name,
            "TEST": {"NAME": _name},
            "OPTIONS": {"timeout": 30},
        }
    }
    if os.environ.get("EZTM_BENCH_SQLITE_WAL"):
        # The configuration docs/deployment.rst recommends for SQLite: a commit appends to the
        # write-ahead log without waiting for the disk (a power cut may lose the last commits,
        # never the file's consistency), and readers do not block the writer.
        DATABASES["default"]["OPTIONS"]["init_command"] = (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )

REDIS_URL = os.environ.get("EZTM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
# The worker class README recommends; every rqworker here (task runs and bare jobs) uses it,
# but for the bare RQ and django-tasks-rq sides of benchmarks/task_calls.py (rq's Worker).
RQ = {"WORKER_CLASS": "eztaskmanager.worker.TaskWorker"}

# Django's task API (Django 6, or 5.2 with django-tasks): the bench app's @task functions run
# through eztaskmanager's backend; benchmarks/task_calls.py also runs them through
# django-tasks-rq's backend ("rq") when that package is installed.
TASKS = {"default": {"BACKEND": "eztaskmanager.tasks.Backend", "QUEUES": ["default"]}}
if find_spec("django_tasks_rq") is not None:
    INSTALLED_APPS.append("django_tasks_rq")
    TASKS["rq"] = {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}

EZTASKMANAGER_QUEUE_SERVICE_TYPE = "RQ"
# WarmTaskWorker's horse: benchmarks/horse_memory.py keeps one horse for all its runs (0: no limit).
EZTASKMANAGER_HORSE_MAX_RUNS = int(os.environ.get("EZTM_BENCH_HORSE_MAX_RUNS", "500")) or None
EZTASKMANAGER_HORSE_MAX_MEMORY_MB = (
    int(os.environ.get("EZTM_BENCH_HORSE_MAX_MEMORY_MB", "512")) or None
)
EZTASKMANAGER_BASE_URL = "http://testserver"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"eztaskmanager": {"handlers": ["console"], "level": "WARNING"}},
}
