"""The ``AppCommand`` rows, kept in step with the command policy by ``collectcommands``."""

from __future__ import annotations

from eztaskmanager import policy

CORE_PREFIXES = ("django.core", "django.contrib")


def available_commands(exclude_core: bool = False) -> dict[str, str]:
    """``{command name: app name}`` of the commands offered as tasks: those the policy allows."""
    commands = policy.allowed_commands()
    if exclude_core:
        commands = {n: a for n, a in commands.items() if not a.startswith(CORE_PREFIXES)}
    return commands


def collect_commands(exclude_core: bool = False) -> dict[str, list[str]]:
    """Sync AppCommand rows with ``available_commands``; never deletes a row.

    Returns the names added, reactivated, deactivated and unchanged. A row the policy refuses
    (a denied command, a row naming the wrong app, a duplicate) is deactivated.
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
    for row in AppCommand.objects.order_by("pk"):
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
