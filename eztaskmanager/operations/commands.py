"""The ``AppCommand`` rows, kept in step with the command policy by ``collectcommands``."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps

from eztaskmanager.core import functions, policy

CORE_PREFIXES = ("django.core", "django.contrib")


def available_commands(exclude_core: bool = False) -> dict[str, str]:
    """``{command name: app name}`` of the commands offered as tasks: those the policy allows.

    ``exclude_core`` leaves out Django's own commands, except those that
    ``EZTASKMANAGER_ALLOWED_COMMANDS`` names: a command allowed by name is always offered.
    """
    commands = policy.allowed_commands()
    if exclude_core:
        named = policy.explicitly_allowed()
        commands = {
            n: a for n, a in commands.items() if n in named or not a.startswith(CORE_PREFIXES)
        }
    return commands


def available_functions() -> dict[str, str]:
    """``{dotted path: app name}`` of the ``@task`` functions in the ``tasks`` module of each
    app whose functions the policy allows (the project's own, ``EZTASKMANAGER_ALLOWED_APPS``).

    Functions elsewhere are offered once called through Django's task API (which makes their
    row) or named by ``taskmanager load``.
    """
    from eztaskmanager.internals import djangotasks

    if not djangotasks.AVAILABLE:
        return {}
    found = {}
    for config in apps.get_app_configs():
        module_name = f"{config.name}.tasks"
        if not policy.functions_allowed_in(config.name) or find_spec(module_name) is None:
            continue
        module = import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, djangotasks.Task) and value.module_path.startswith(module_name):
                if policy.why_refused(value.module_path) is None:
                    found[value.module_path] = config.name
    return dict(sorted(found.items()))


def offered_rows(keep_pk=None):
    """The active ``AppCommand`` rows the policy allows now, for a task form's choices;
    ``keep_pk`` (the command a task has already) stays, so that its form shows why not."""
    from eztaskmanager.models import AppCommand

    rows = AppCommand.objects.filter(active=True).order_by("name")
    allowed = [row.pk for row in rows if policy.explain(row) is None]
    return AppCommand.objects.filter(pk__in=[*allowed, keep_pk]).order_by("name", "app_name")


def collect_commands(exclude_core: bool = False) -> dict[str, list[str]]:
    """Sync AppCommand rows with ``available_commands``; never deletes a row.

    Returns the names added, reactivated, deactivated and unchanged. A row the policy refuses
    (a denied command, a row naming the wrong app, a duplicate) is deactivated.
    """
    from eztaskmanager.models import AppCommand

    wanted = {**available_commands(exclude_core), **available_functions()}
    outcome: dict[str, list[str]] = {
        "added": [],
        "reactivated": [],
        "deactivated": [],
        "unchanged": [],
    }
    seen = set()
    for row in AppCommand.objects.order_by("pk"):
        key = (row.name, row.app_name)
        if functions.is_function_name(row.name):  # wherever it is, if the policy allows it
            keep = policy.why_refused(row.name, row.app_name) is None and key not in seen
        else:
            keep = wanted.get(row.name) == row.app_name and key not in seen
        seen.add(key)
        if keep and not row.active:
            row.active = True
            row.save(update_fields=["active"])
            outcome["reactivated"].append(row.name)
        elif not keep and row.active:
            row.active = False
            row.save(update_fields=["active"])
            outcome["deactivated"].append(row.name)
        elif keep:
            outcome["unchanged"].append(row.name)
    for name, app_name in wanted.items():
        if (name, app_name) not in seen:
            AppCommand.objects.create(name=name, app_name=app_name, active=True)
            outcome["added"].append(name)
    return outcome
