"""Django's task API: ``django.tasks`` (Django 6.0 and later) or its backport ``django_tasks``.

DEP 0014 put ``@task``, ``Task``, ``TaskResult`` and the ``TASKS`` backends in Django 6.0; the
``django-tasks`` package gives Django 5.2 the same API under ``django_tasks`` (installed by the
``tasks`` extra). Both are documented; what differs is where they live and one exception's
name (``InvalidTask`` in Django, ``InvalidTaskError`` in the backport). The rest of
eztaskmanager reads them from here only, and ``AVAILABLE`` says whether either is installed
(without one, functions cannot be named by tasks and ``eztaskmanager.tasks`` cannot be a
``TASKS`` backend).

``Task.module_path`` is the dotted path of the decorated function, at which its module holds
the ``Task`` itself (the decorator replaces the function): eztaskmanager records that path and
imports it back on the worker.
"""

from __future__ import annotations

try:  # Django 6.0 and later
    from django.tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskError
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started

    SOURCE = "django.tasks"
except ImportError:
    try:  # Django 5.2 with django-tasks
        from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import Task, TaskError
        from django_tasks.exceptions import InvalidTaskError as InvalidTask
        from django_tasks.exceptions import TaskResultDoesNotExist
        from django_tasks.signals import task_enqueued, task_finished, task_started

        SOURCE = "django_tasks"
    except ImportError:
        SOURCE = ""

AVAILABLE = bool(SOURCE)

if not AVAILABLE:  # names that stand for "no task API" where the code asks

    class Task:  # noqa: D101 - nothing is an instance of it
        pass

    BaseTaskBackend = object
    TaskContext = TaskResult = TaskResultStatus = TaskError = task_backends = None
    InvalidTask = TaskResultDoesNotExist = None
    task_enqueued = task_finished = task_started = None

__all__ = [
    "AVAILABLE",
    "SOURCE",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
