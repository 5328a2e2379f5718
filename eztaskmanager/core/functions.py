"""``@task`` functions as what a task runs: their names, their JSON arguments, their loading.

A task runs a management command or a function decorated with Django's ``@task``. A function is
named by its dotted path (``app.tasks.send_digest``); a command name never holds a dot (it is a
module's file name), so the name alone tells which one a task or a launch means.

A function's arguments are a JSON object with two optional keys: ``"args"`` (a list, the
positional arguments) and ``"kwargs"`` (an object, the keyword arguments); empty text means no
arguments. They are checked against the function's signature before a launch is recorded, and
again on the worker before the call.
"""

from __future__ import annotations

import inspect
import json
import secrets
from importlib import import_module

from django.apps import apps
from django.utils.translation import gettext as _

from eztaskmanager.internals import djangotasks

KEYS = ("args", "kwargs")


class ArgumentsError(ValueError):
    """The JSON arguments of a function are not valid for it, with why."""


class NotATaskFunction(LookupError):
    """A dotted path that does not name a module-level ``@task`` function."""


def new_call_id() -> str:
    """A new id for a call of a function (its ``TaskResult`` id): 32 hex digits."""
    return secrets.token_hex(16)


def is_function_name(name: str) -> bool:
    """Whether ``name`` names a function (a dotted path) rather than a management command."""
    return "." in (name or "")


def split(name: str) -> tuple[str, str]:
    """``(module, function name)`` of a dotted path."""
    module, _dot, attribute = name.rpartition(".")
    return module, attribute


def containing_app(name: str):
    """The installed app whose package holds the module of ``name``, found from the name alone
    (nothing is imported), or None."""
    return apps.get_containing_app_config(split(name)[0])


def load(name: str):
    """The ``Task`` at ``name``; ``NotATaskFunction`` when there is none.

    Call it only for a name the policy allows: it imports the module.
    """
    if not djangotasks.AVAILABLE:
        raise NotATaskFunction(
            _("Functions need Django 6 or the django-tasks package (the “tasks” extra).")
        )
    module_name, attribute = split(name)
    if not module_name or not attribute.isidentifier():
        raise NotATaskFunction(_("%(name)s is not a dotted path.") % {"name": repr(name)})
    try:
        module = import_module(module_name)
    except ImportError as exc:
        message = _("Module %(module)s cannot be imported: %(error)s")
        raise NotATaskFunction(message % {"module": repr(module_name), "error": exc}) from exc
    found = getattr(module, attribute, None)
    if not isinstance(found, djangotasks.Task):
        message = _("%(name)s is not a function decorated with @task.")
        raise NotATaskFunction(message % {"name": repr(name)})
    if found.module_path != name:  # an alias of a task defined elsewhere, or not module-level
        message = _("%(name)s is defined as %(path)s: name that instead.")
        raise NotATaskFunction(message % {"name": repr(name), "path": repr(found.module_path)})
    return found


def parse(text: str | None) -> tuple[list, dict]:
    """``(args, kwargs)`` from a function's arguments text; ``ArgumentsError`` says what is
    wrong with it."""
    if not (text or "").strip():
        return [], {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        message = _("The arguments are not valid JSON: %(error)s") % {"error": exc}
        raise ArgumentsError(message) from exc
    if not isinstance(value, dict):
        raise ArgumentsError(
            _('The arguments are a JSON object: {"args": [...], "kwargs": {...}}, both optional.')
        )
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ArgumentsError(
            _('Unknown keys %(keys)s: use "args" (a list) and "kwargs" (an object).')
            % {"keys": ", ".join(repr(key) for key in unknown)}
        )
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list):
        raise ArgumentsError(_('"args" is a JSON list.'))
    if not isinstance(kwargs, dict):
        raise ArgumentsError(_('"kwargs" is a JSON object.'))
    return args, kwargs


def dump(args, kwargs) -> str:
    """The arguments text of ``args`` and ``kwargs`` (JSON values); "" when there are none."""
    value = {}
    if args:
        value["args"] = list(args)
    if kwargs:
        value["kwargs"] = dict(kwargs)
    if not value:
        return ""
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArgumentsError(
            _(
                "The arguments must be JSON values (lists, objects, text, numbers, booleans, "
                "null): %(error)s"
            )
            % {"error": exc}
        ) from exc


def bind(task, args: list, kwargs: dict) -> None:
    """``ArgumentsError`` unless ``task``'s function accepts ``args`` and ``kwargs`` (after its
    ``context`` when it takes one)."""
    signature = inspect.signature(task.func)
    if task.takes_context:
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        message = _("%(name)s%(signature)s does not take these arguments: %(error)s")
        raise ArgumentsError(
            message % {"name": task.name, "signature": signature, "error": exc}
        ) from exc


def check(task, text: str | None) -> tuple[list, dict]:
    """``parse`` then ``bind``: the arguments of a call of ``task``, checked."""
    args, kwargs = parse(text)
    bind(task, args, kwargs)
    return args, kwargs


def call_text(name: str, args: list, kwargs: dict) -> str:
    """How a call reads in Python: ``path(1, "a", b=[2])`` (values as JSON writes them)."""
    words = [json.dumps(value) for value in args]
    words += [f"{key}={json.dumps(value)}" for key, value in kwargs.items()]
    return f"{name}({', '.join(words)})"


def help_text(task) -> str:
    """What a function's page shows of it: its signature and docstring."""
    signature = inspect.signature(task.func)
    doc = inspect.getdoc(task.func) or ""
    return f"{task.module_path}{signature}\n\n{doc}".strip()
