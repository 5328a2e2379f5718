"""System checks: a bad setting is explained by ``manage.py check`` before anything runs."""

import inspect

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError
from django.utils.module_loading import import_string

from eztaskmanager import conf
from eztaskmanager.backends import BACKENDS as SERVICES
from eztaskmanager.compat.checks import level_problem
from eztaskmanager.core import policy
from eztaskmanager.notifications import LEVELS, NotificationHandler, handler_options


@register()
def check_queue_service(app_configs, **kwargs):

    kind = conf.get("QUEUE_SERVICE_TYPE")
    if kind in SERVICES:
        return []
    try:
        import_string(kind)
    except ImportError:
        return [
            Error(
                f"EZTASKMANAGER_QUEUE_SERVICE_TYPE is {kind!r}: not one of "
                f"{sorted(SERVICES)} nor an importable class.",
                id="eztaskmanager.E001",
            )
        ]
    return []


@register()
def check_notification_handlers(app_configs, **kwargs):
    """Each entry of EZTASKMANAGER_NOTIFICATION_HANDLERS can be built into a handler."""
    config = conf.get("NOTIFICATION_HANDLERS")
    if not config:
        return []
    if not isinstance(config, dict):
        return [
            Error(
                "EZTASKMANAGER_NOTIFICATION_HANDLERS must be a dict of "
                '{"name": {"class": "dotted.path", "level": "errors", ...}}.',
                id="eztaskmanager.E010",
            )
        ]
    messages = []
    for name, spec in config.items():
        messages.extend(_check_handler(name, spec))
    if not conf.get("BASE_URL"):
        messages.append(
            Warning(
                "EZTASKMANAGER_BASE_URL is empty: notifications cannot link to the run's log.",
                hint='Set it to the site\'s address, e.g. "https://example.com".',
                id="eztaskmanager.W010",
            )
        )
    return messages


def _check_handler(name, spec) -> list:
    where = f"EZTASKMANAGER_NOTIFICATION_HANDLERS[{name!r}]"
    if not isinstance(spec, dict):
        return [Error(f"{where} must be a dict.", id="eztaskmanager.E010")]
    path, options = handler_options(spec)
    if not path:
        return [Error(f"{where} has no 'class'.", id="eztaskmanager.E011")]
    try:
        handler_class = import_string(path)
    except ImportError as exc:
        return [Error(f"{where}: cannot import {path!r}: {exc}", id="eztaskmanager.E011")]
    if not (isinstance(handler_class, type) and issubclass(handler_class, NotificationHandler)):
        return [
            Error(
                f"{where}: {path!r} is not a subclass of NotificationHandler.",
                id="eztaskmanager.E011",
            )
        ]

    messages = []
    level_hint = f"Use one of {', '.join(LEVELS)}."
    if "level" not in options:
        messages.append(Error(f"{where} has no 'level'.", hint=level_hint, id="eztaskmanager.E012"))
    elif problem := level_problem(where, options["level"]):
        messages.append(problem)  # an error, or a warning for a 0.5.x spelling
    required, optional, any_keyword = _arguments(handler_class)
    not_empty = set(handler_class.required_options)
    for option in sorted((required | not_empty) - {"level"}):
        if option not in options:
            messages.append(Error(f"{where} has no {option!r}.", id="eztaskmanager.E013"))
        elif option in not_empty and not options[option]:
            messages.append(Error(f"{where}: {option!r} is empty.", id="eztaskmanager.E013"))
    if not any_keyword:
        for option in sorted(set(options) - required - optional):
            messages.append(
                Error(
                    f"{where}: unexpected option {option!r} for {handler_class.__name__}.",
                    hint=f"Accepted: {', '.join(sorted(required | optional))}.",
                    id="eztaskmanager.E013",
                )
            )
    messages.extend(handler_class.check_options(name, options))
    return messages


def _arguments(handler_class) -> tuple[set, set, bool]:
    """The handler's required and optional argument names, and whether it takes **kwargs."""
    required, optional, any_keyword = set(), set(), False
    for parameter in inspect.signature(handler_class).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            any_keyword = True
        elif parameter.kind is not parameter.VAR_POSITIONAL:
            target = required if parameter.default is parameter.empty else optional
            target.add(parameter.name)
    return required, optional, any_keyword


@register()
def check_allowed_commands(app_configs, **kwargs):
    """Commands EZTASKMANAGER_ALLOWED_COMMANDS allows in vain (the deny list wins)."""
    return [
        Warning(
            f"EZTASKMANAGER_ALLOWED_COMMANDS names {name!r}, but the built-in deny list "
            "refuses it: no task may run it, whatever the settings say.",
            hint=f"Remove {name!r} from EZTASKMANAGER_ALLOWED_COMMANDS.",
            id="eztaskmanager.W031",
        )
        for name in policy.overridden_allowed()
    ]


@register(Tags.database)
def check_task_commands(app_configs, databases=None, **kwargs):
    """Tasks whose command the policy no longer allows (kept, never run): say which, and why.

    A database check, as Django wants checks that query: ``migrate`` runs it, and so does
    ``manage.py check --database default``. Before the first ``migrate`` there is nothing to say.
    """
    from eztaskmanager.models import Task

    if not databases or Task.objects.db not in databases:
        return []
    try:
        tasks = list(Task.objects.select_related("command").order_by("command__name", "name"))
    except DatabaseError:
        return []
    refused: dict[tuple[str, str], list[str]] = {}
    for task in tasks:
        if policy.refusal(task.command):
            refused.setdefault((task.command.name, _remedy(task.command)), []).append(task.name)
    return [
        Warning(
            f"Command {name!r} is not allowed by the command policy; these tasks will not "
            f"run: {', '.join(repr(t) for t in task_names)}.",
            hint=remedy,
            id="eztaskmanager.W030",
        )
        for (name, remedy), task_names in refused.items()
    ]


def _remedy(command) -> str:
    if policy.why_refused(command.name, command.app_name) is None:
        return "Its row is inactive: run `manage.py collectcommands`, or activate it in the admin."
    setting = policy.allowing_setting(command.name)
    if setting:
        return f"To allow it: {setting}; or give the tasks another command."
    return "No setting allows it: give the tasks another command."


@register(Tags.database)
def check_task_queues(app_configs, databases=None, **kwargs):
    """Tasks that name a queue django-rq does not know: their runs would go nowhere."""
    from eztaskmanager.models import Task, configured_queues

    if not databases or Task.objects.db not in databases:
        return []
    known = configured_queues()
    try:
        unknown = list(
            Task.objects.exclude(queue="").exclude(queue__in=known).values_list("queue", "name")
        )
    except DatabaseError:
        return []
    by_queue: dict[str, list[str]] = {}
    for queue, name in unknown:
        by_queue.setdefault(queue, []).append(name)
    return [
        Warning(
            f"Queue {queue!r} is not in RQ_QUEUES; these tasks cannot run: "
            f"{', '.join(repr(n) for n in names)}.",
            hint=f"Add it to RQ_QUEUES, or give the tasks one of: {', '.join(known) or '-'}.",
            id="eztaskmanager.W040",
        )
        for queue, names in by_queue.items()
    ]


@register()
def check_task_backends(app_configs, **kwargs):
    """The checks of ``eztaskmanager.tasks.Backend`` entries of ``TASKS`` where nobody else runs
    them: Django 6 checks every backend, the ``django-tasks`` backport only once its app is in
    ``INSTALLED_APPS``."""
    from django.apps import apps

    from eztaskmanager.internals import djangotasks

    if djangotasks.SOURCE != "django_tasks" or apps.is_installed("django_tasks"):
        return []
    if "eztaskmanager.tasks.Backend" not in str(getattr(settings, "TASKS", "")):
        return []
    return [error for backend in djangotasks.task_backends.all() for error in backend.check()]
