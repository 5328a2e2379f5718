"""Discovery of the management commands that tasks may run."""

from __future__ import annotations

from django.core.management import get_commands

from eztaskmanager import conf

CORE_PREFIXES = ("django.core", "django.contrib")


def available_commands(exclude_core: bool = False) -> dict[str, str]:
    """``{command name: app name}`` of the commands offered as tasks."""
    excluded = set(conf.get("EXCLUDED_COMMANDS"))
    commands = {}
    for name, app_name in get_commands().items():
        if name in excluded:
            continue
        if exclude_core and app_name.startswith(CORE_PREFIXES):
            continue
        commands[name] = app_name
    return commands


def collect_commands(exclude_core: bool = False) -> dict[str, list[str]]:
    """Sync AppCommand rows with ``available_commands``; never deletes a row.

    Returns the names added, reactivated, deactivated and unchanged.
    """
    from eztaskmanager.models import AppCommand

    wanted = available_commands(exclude_core)
    outcome: dict[str, list[str]] = {
        "added": [],
        "reactivated": [],
        "deactivated": [],
        "unchanged": [],
    }
    seen = set()
    for row in AppCommand.objects.all():
        key = (row.name, row.app_name)
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
