"""Tasks declared in code: the ``EZTASKMANAGER_TASKS`` setting or a YAML / JSON file.

A declaration is a list of dicts, one per task, keyed by the task's name::

    [{"name": "Nightly import", "command": "import_data", "arguments": "--full",
      "cron_expression": "30 2 * * *", "category": "Imports"}]

``load_tasks`` makes the Task table match: a missing task is created, a declared field that
differs is updated, and nothing else is touched (run history stays; tasks that are not
declared stay as they are). A key left out of a declaration takes its default value, except
the start of a repetition, which the queue service sets at the first scheduling, and
``enabled`` (whether the schedule is on: ``enabled: false`` keeps it paused), which a task that
exists keeps as it is, so that a task stopped by an operator stays stopped when the
declarations are loaded again. Tasks whose timing changed are scheduled again (or paused, or
unscheduled) through the queue service.

Loading is the operators' doing (the ``cli`` actor): what it creates or changes is recorded in
each task's admin history and approves what the task runs (see ``authorisation``). A command
that a superuser switched off (an inactive ``AppCommand`` row) is never switched on again
silently: a declaration naming it is refused, unless the load is told to ``reactivate`` it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from eztaskmanager import conf, operations
from eztaskmanager.backends import BackendError, get_backend
from eztaskmanager.core import bounds, functions, policy
from eztaskmanager.internals.django import get_commands
from eztaskmanager.models import AppCommand, Task, TaskCategory
from eztaskmanager.operations import audit, authorisation
from eztaskmanager.operations.commands import available_commands

FIELDS = (
    "name",
    "command",
    "arguments",
    "category",
    "note",
    "scheduling",
    "repetition_period",
    "repetition_rate",
    "cron_expression",
    "notification_level",
    "timeout",
    "allow_overlap",
    "max_retries",
    "retry_delays",
    "retry_exponential",
    "legacy_arguments",
    "alert_after_minutes",
    "queue",
    "enabled",
)
TIMING_FIELDS = ("scheduling", "repetition_period", "repetition_rate", "cron_expression", "enabled")
# Declaration keys whose model field has another name.
MODEL_FIELDS = {"enabled": "schedule_enabled"}
# Values a field takes when its key is left out of a declaration.
DEFAULTS: dict[str, Any] = {
    "arguments": "",
    "category": None,
    "note": None,
    "scheduling": None,
    "repetition_period": "",
    "repetition_rate": None,
    "cron_expression": "",
    "notification_level": "",
    "timeout": None,
    "allow_overlap": False,
    "max_retries": 0,
    "retry_delays": "60",
    "retry_exponential": False,
    # Declarations are written in the current notation: loading one moves a task created
    # before the upgrade off 0.5.x's argument rule, unless it says otherwise.
    "legacy_arguments": False,
    "alert_after_minutes": None,
    "queue": "",
    "enabled": True,
}


class DeclarationError(Exception):
    """Declarations that cannot be applied; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class Change:
    """What loading did (or would do) to one declared task."""

    name: str
    action: str  # "created", "updated" or "unchanged"
    fields: list[str] = field(default_factory=list)
    schedule: str = ""  # what happened to its schedule, if anything
    task_id: int | None = None


@dataclass
class LoadResult:
    changes: list[Change]
    dry_run: bool
    schedule_errors: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "tasks": [change.__dict__ for change in self.changes],
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "schedule_errors": self.schedule_errors,
        }

    def lines(self) -> list[str]:
        would = "would be " if self.dry_run else ""
        out = []
        for change in self.changes:
            text = f"{change.action:<9}  {change.name}"
            if change.fields:
                text += f"  ({', '.join(change.fields)})"
            if change.schedule:
                text += f"  [{change.schedule}]"
            out.append(text)
        out.append(
            f"{self.count('created')} {would}created, {self.count('updated')} {would}updated, "
            f"{self.count('unchanged')} unchanged."
            + ("  Dry run: nothing was changed." if self.dry_run else "")
        )
        out.extend(f"Schedule not applied: {error}" for error in self.schedule_errors)
        return out


# -- reading ---------------------------------------------------------------------------------


def read_file(path: str | Path) -> list[dict]:
    """Declarations from a ``.json``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeclarationError([f"Cannot read {path}: {exc.strerror or exc}"]) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        yaml = _yaml()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DeclarationError([f"{path} is not valid YAML: {exc}"]) from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeclarationError([f"{path} is not valid JSON: {exc}"]) from exc
    return data if data is not None else []


def from_settings() -> list[dict]:
    return conf.get("TASKS")


def _yaml():
    try:
        import yaml
    except ImportError as exc:
        raise DeclarationError(
            ["Reading or writing YAML needs PyYAML: pip install 'django-eztaskmanager[yaml]'"]
        ) from exc
    return yaml


# -- checking --------------------------------------------------------------------------------


def normalise(declarations: Any) -> tuple[list[dict], list[str]]:
    """Check the shape of the declarations: the usable ones with every field, and the errors."""
    if not isinstance(declarations, (list, tuple)):
        raise DeclarationError(["Tasks must be declared as a list of dicts, one per task."])
    errors: list[str] = []
    seen: set[str] = set()
    entries = []
    for position, item in enumerate(declarations, start=1):
        where = f"Task #{position}"
        if not isinstance(item, dict):
            errors.append(f"{where}: a dict of fields is expected, not {type(item).__name__}.")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{where}: 'name' is required (a non-empty string).")
            continue
        where = f"Task {name!r}"
        if any(bounds.has_nul(key, value) for key, value in item.items()):
            errors.append(f"{where}: {bounds.nul_message()}")  # before any query sees it
            continue
        found = []
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            found.append(
                f"{where}: unknown field(s) {', '.join(unknown)}; accepted: {', '.join(FIELDS)}."
            )
        if not isinstance(item.get("command"), str) or not item.get("command"):
            found.append(f"{where}: 'command' is required (the management command's name).")
        if name in seen:
            found.append(f"{where}: declared twice.")
        seen.add(name)
        entry = {**DEFAULTS, **item}
        entry["_keys"] = set(item)
        try:
            entry["scheduling"] = _datetime(entry["scheduling"])
        except ValueError as exc:
            found.append(f"{where}: scheduling: {exc}")
        for text_field in ("arguments", "repetition_period", "cron_expression"):
            entry[text_field] = entry[text_field] or ""
        errors.extend(found)
        if not found:
            entries.append(entry)
    return entries, errors


def _datetime(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            raise ValueError(f"{value!r} is not a date and time (e.g. 2026-01-31T02:30:00+01:00).")
    else:
        raise ValueError(f"{value!r} is not a date and time.")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _command(name: str, reactivate: bool = False, switched_on: list | None = None):
    """The active AppCommand named ``name``, added from the project's commands if missing.

    A row switched off names a command somebody decided not to run: it is switched on again
    only with ``reactivate`` (the rows switched on are added to ``switched_on``); otherwise
    ``SwitchedOff`` is raised.
    """

    command = AppCommand.objects.filter(name=name, active=True).order_by("pk").first()
    if command is not None:
        return command
    app_name = available_commands().get(name)
    if functions.is_function_name(name) and policy.why_refused(name) is None:
        app_name = functions.containing_app(name).name  # a @task function, by its path
    if app_name is None:
        return None
    command = AppCommand.objects.filter(name=name, app_name=app_name).order_by("pk").first()
    if command is None:
        return AppCommand.objects.create(name=name, app_name=app_name, active=True)
    if not reactivate:
        raise SwitchedOff(name)
    command.active = True
    command.save(update_fields=["active"])
    if switched_on is not None:
        switched_on.append(command)
    return command


class SwitchedOff(Exception):
    """A declaration names a command whose row was switched off."""


def _refused(name: str) -> str:
    if functions.is_function_name(name):
        return f"command not allowed: {name} ({policy.why_refused(name)})"
    if name not in get_commands():
        return f"unknown command {name!r} (not a management command of this project)."
    return f"command not allowed: {name} ({policy.why_refused(name)})"


def _category(name):

    if not name:
        return None
    category = TaskCategory.objects.filter(name=name).order_by("pk").first()
    return category or TaskCategory.objects.create(name=name)


def _current_value(task, name: str):
    if name == "command":
        return task.command.name if task.command_id else None
    if name == "category":
        return task.category.name if task.category_id else None
    return getattr(task, MODEL_FIELDS.get(name, name))


def _same(name: str, old, new) -> bool:
    if name == "note":
        return (old or "") == (new or "")
    if name == "category":
        return (old or None) == (new or None)
    return old == new


# -- applying ------------------------------------------------------------------------------


def load_tasks(
    declarations: Any, dry_run: bool = False, service=None, reactivate: bool = False
) -> LoadResult:
    """Create or update the declared tasks; reschedule those whose timing changed.

    Nothing is written when any declaration is invalid (``DeclarationError`` lists them all),
    nor with ``dry_run``. Scheduling problems (Redis down, a one-off time in the past) do not
    undo the saved tasks; they are listed in ``schedule_errors``. A declaration naming a
    command that was switched off is an error, unless ``reactivate`` switches it on again.
    """

    entries, errors = normalise(declarations)
    changes: list[Change] = []
    to_schedule: list[tuple[Task, Change]] = []
    existing: dict[str, list[Task]] = {}
    for task in Task.objects.select_related("command", "category").filter(
        name__in=[e["name"] for e in entries]
    ):
        existing.setdefault(task.name, []).append(task)

    user = audit.actor(audit.CLI)  # loading declarations is the operator's doing
    switched_on: list[AppCommand] = []
    with transaction.atomic():
        for entry in entries:
            try:
                change, task, retime = _apply(
                    entry, existing.get(entry["name"], []), reactivate, switched_on
                )
            except DeclarationError as exc:
                errors.extend(exc.errors)
                continue
            changes.append(change)
            if retime:
                to_schedule.append((task, change))
        if errors:
            raise DeclarationError(errors)
        for command in switched_on:
            audit.record(command, user, "Switched on again by taskmanager load --reactivate")
        if dry_run:
            for task, change in to_schedule:
                if task.is_scheduled:
                    paused = not task.schedule_enabled
                    change.schedule = "would be paused" if paused else "would be scheduled"
                else:
                    change.schedule = "would be stopped"
            transaction.set_rollback(True)
            return LoadResult(changes, dry_run=True)

    result = LoadResult(changes, dry_run=False)
    if to_schedule:
        _reschedule(to_schedule, result, service)
    return result


def _apply(
    entry: dict, matches: list, reactivate: bool = False, switched_on: list | None = None
) -> tuple[Change, Any, bool]:
    """Create or update one task (in the open transaction); say what changed, in the task's
    history too."""

    name = entry["name"]
    where = f"Task {name!r}"
    if len(matches) > 1:
        ids = ", ".join(str(t.pk) for t in matches)
        raise DeclarationError(
            [f"{where}: {len(matches)} tasks have this name (ids {ids}); rename all but one."]
        )
    try:
        command = _command(entry["command"], reactivate, switched_on)
    except SwitchedOff:
        raise DeclarationError(
            [
                f"{where}: the command {entry['command']!r} was switched off (its row is "
                "inactive); switch it on in the admin, or load with --reactivate."
            ]
        ) from None
    if command is None:
        raise DeclarationError([f"{where}: {_refused(str(entry['command']))}"])
    task = matches[0] if matches else Task(name=name)
    created = task.pk is None
    before = {key: _current_value(task, key) for key in FIELDS[1:]} if not created else {}
    runs_before = audit.run_values(task) if not created else {}

    wanted = {key: entry[key] for key in FIELDS[2:] if key != "category"}
    if "scheduling" not in entry["_keys"] and entry["repetition_period"] and not created:
        # A repetition counts from its first run, set when it was first scheduled: keep it.
        wanted["scheduling"] = task.scheduling
    if "enabled" not in entry["_keys"] and not created:
        wanted["enabled"] = task.schedule_enabled  # an operator's Stop stays until resumed
    elif not isinstance(wanted["enabled"], bool):
        raise DeclarationError([f"{where}: enabled: true or false, not {wanted['enabled']!r}."])
    task.command = command
    for key, value in wanted.items():
        setattr(task, MODEL_FIELDS.get(key, key), value)
    if created or before["category"] != (entry["category"] or None):
        task.category = _category(entry["category"])
    try:
        task.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise DeclarationError([f"{where}: {_messages(exc)}"]) from exc

    if created:
        task.save()
        _record(task, [], {})
        return Change(name, "created", task_id=task.pk), task, task.is_scheduled
    changed = [key for key in FIELDS[1:] if not _same(key, before[key], _current_value(task, key))]
    if not changed:
        return Change(name, "unchanged", task_id=task.pk), task, False
    task.save(update_fields=[MODEL_FIELDS.get(key, key) for key in changed])
    _record(task, changed, runs_before)
    retime = bool(set(changed) & set(TIMING_FIELDS))
    return Change(name, "updated", fields=changed, task_id=task.pk), task, retime


def _record(task: Task, changed: list[str], runs_before: dict) -> None:
    """Write what the load did to ``task`` in its history; approve what it runs (the load is
    the operators' doing). ``changed`` is empty for a task the load created."""
    user = audit.actor(audit.CLI)
    if not changed:
        audit.record(task, user, "Created by taskmanager load", kind="add")
        authorisation.created(task, user)
        return
    message = audit.run_change(runs_before, audit.run_values(task))
    others = [key for key in changed if key not in authorisation.RUN_FIELDS]
    if others:
        message = f"{message} " if message else ""
        message += f"Changed {', '.join(others)}."
    audit.record(task, user, f"taskmanager load: {message}")
    authorisation.changed(task, user, changed)


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{key}: {' '.join(messages)}" if key != "__all__" else " ".join(messages)
            for key, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _reschedule(items, result: LoadResult, service) -> None:
    """Apply the new timing of each changed task (``service``: a queue service or backend)."""
    user = audit.actor(audit.CLI)  # loading declarations is the operator's doing
    try:
        backend = getattr(service, "backend", service) or get_backend()
    except BackendError as exc:
        result.schedule_errors.append(str(exc))
        return
    for task, change in items:
        try:
            # After the commit already (see load_tasks): send at once, so errors are listed.
            outcome = operations.apply_schedule(task, backend, defer=False, user=user)
        except (BackendError, ValueError) as exc:  # ValueError: a schedule that never fires
            change.schedule = "not scheduled"
            result.schedule_errors.append(f"{task.name!r}: {exc}")
            continue
        if outcome.state == operations.SCHEDULED:
            change.schedule = f"next run {timezone.localtime(outcome.when):%Y-%m-%d %H:%M:%S}"
        elif outcome.state == operations.UNSCHEDULED:
            change.schedule = "unscheduled"
        elif outcome.state == operations.PAUSED:
            change.schedule = "paused"


# -- exporting -------------------------------------------------------------------------------


def export_tasks(queryset=None) -> list[dict]:
    """The tasks as declarations (fields at their default value are left out)."""

    if queryset is None:
        queryset = Task.objects.all()
    declarations = []
    for task in queryset.select_related("command", "category").order_by("name", "pk"):
        item: dict[str, Any] = {"name": task.name, "command": task.command.name}
        for key in FIELDS[2:]:
            value = _current_value(task, key)
            if key == "scheduling" and value is not None:
                value = timezone.localtime(value).isoformat()
            if value in (None, "") or value == DEFAULTS.get(key, object()):
                continue
            item[key] = value
        declarations.append(item)
    return declarations


def dump(declarations: list[dict], fmt: str = "json") -> str:
    """Declarations as JSON or YAML text."""
    if fmt == "yaml":
        return _yaml().safe_dump(declarations, sort_keys=False, allow_unicode=True)
    if fmt != "json":
        raise DeclarationError([f"Unknown format {fmt!r}: use json or yaml."])
    return json.dumps(declarations, indent=2, ensure_ascii=False) + "\n"
