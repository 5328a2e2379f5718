"""A project set up as 0.5.x documented it starts on this version and migrates its data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_KEY = "legacy-project-not-secret"
DEBUG = True
ALLOWED_HOSTS = []
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "eztaskmanager",
    "django_rq",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "legacy_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
LANGUAGE_CODE = "it"
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:6379", "DEFAULT_TIMEOUT": 360}}

# The settings of django-eztaskmanager 0.5.x, as its documentation and demo wrote them.
EZTASKMANAGER_QUEUE_SERVICE_TYPE = "RQ"
EZTASKMANAGER_N_LINES_IN_REPORT_LOG = 5
EZTASKMANAGER_N_REPORTS_INLINE = 10
EZTASKMANAGER_SHOW_LOGVIEWER_LINK = True
EZTASKMANAGER_USE_FILTER_COLLAPSE = True
EZTASKMANAGER_BASE_URL = None
EZTASKMANAGER_NOTIFICATION_HANDLERS = {
    "email-errors": {
        "class": "eztaskmanager.services.notifications.EmailNotificationHandler",
        "level": "failure",
        "from_email": "admin@example.com",
        "recipients": ["admin@example.com", ],
    },
    "slack-failures": {
        "class": "eztaskmanager.services.notifications.SlackNotificationHandler",
        "level": "failure",
        "token": "<token>",
        "channel": "id-or-name-of-channel",
    },
    "email-warnings": {
        "class": "eztaskmanager.services.notifications.EmailNotificationHandler",
        "level": 10,
        "from_email": "admin@example.com",
        "recipients": ["admin@example.com"],
    },
}
"""

URLS = """
from django.contrib import admin
from django.urls import include, path

from eztaskmanager.settings import EZTASKMANAGER_N_LINES_IN_REPORT_LOG  # noqa: F401
from eztaskmanager.views import LogViewerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("eztaskmanager/", include("eztaskmanager.urls")),
    path("mylogs/<int:pk>/", LogViewerView.as_view(), name="my_logs"),
]
"""

MAKE_050_ROWS = """
from eztaskmanager.models import AppCommand, LaunchReport, Log, Task
from django.db import connection

# Columns of 0.5.x only: the models of this version have more.
with connection.cursor() as cursor:
    command = AppCommand.objects.create(name="eztm_echo", app_name="tests.testapp")
    cursor.execute(
        "INSERT INTO eztaskmanager_task (name, command_id, arguments, status, "
        "repetition_period) VALUES (%s, %s, %s, 'idle', '')",
        ["old task", command.pk, "--title=hello world, --count=3"],
    )
"""

READ_ROWS = """
import json
from eztaskmanager.models import Task
task = Task.objects.get(name="old task")
print(json.dumps({"legacy": task.legacy_arguments, "argv": task.complete_args,
                  "options": task.options}))
"""


def manage(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="legacy_project.settings",
        PYTHONPATH=os.pathsep.join([str(project), str(ROOT)]),
        PYTHONWARNINGS="default::DeprecationWarning",
    )
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path):
    package = tmp_path / "legacy_project"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(textwrap.dedent(SETTINGS))
    (package / "urls.py").write_text(textwrap.dedent(URLS))
    return tmp_path


def test_a_050_project_starts_and_migrates(project):
    # The database as 0.5.x left it: its three migrations and a task of its own.
    result = manage(project, "migrate", "eztaskmanager", "0003")
    assert result.returncode == 0, result.stderr
    result = manage(project, "shell", "-c", MAKE_050_ROWS)
    assert result.returncode == 0, result.stderr

    check = manage(project, "check")
    assert check.returncode == 0, check.stderr
    report = check.stdout + check.stderr
    assert (
        "eztaskmanager.W012" in report and "'failure' is the 0.5.x spelling of 'failed'" in report
    )
    assert "level 10 is the 0.5.x spelling of 'warnings'" in report
    assert "eztaskmanager.W021" in report and "USE_FILTER_COLLAPSE" in report
    for name in ("eztaskmanager.settings", "LogViewerView (URL 'mylogs/<int:pk>/')"):
        assert f"{name} is deprecated" in report, name
    assert "eztaskmanager.E" not in report  # nothing stops the project

    result = manage(project, "migrate")
    assert result.returncode == 0, result.stderr
    result = manage(project, "shell", "-c", READ_ROWS)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert rows == {
        "legacy": True,
        "argv": ["--title", "hello world", "--count", "3"],
        "options": {"title": "hello world", "count": "3"},
    }


def test_the_050_app_config_name_still_starts_the_app(project):
    settings = project / "legacy_project" / "settings.py"
    text = settings.read_text().replace(
        '"eztaskmanager",', '"eztaskmanager.apps.EZTaskmanagerConfig",'
    )
    settings.write_text(text)
    check = manage(project, "check")
    assert check.returncode == 0, check.stderr
    report = check.stdout + check.stderr
    assert "eztaskmanager.W012" in report  # the app's checks are registered
    assert "eztaskmanager.apps.EZTaskmanagerConfig is deprecated" in report
