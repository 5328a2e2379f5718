"""The command policy: which management commands a task may run.

What may run is decided here, from code and settings, never from the ``AppCommand`` rows alone
(rows can be edited in the admin or the database). A command may run when all of these hold:

1. its name is not in ``DENIED_COMMANDS``, which no setting can undo;
2. its name is not in ``EZTASKMANAGER_EXCLUDED_COMMANDS``;
3. it is named in ``EZTASKMANAGER_ALLOWED_COMMANDS``, or it belongs to an app named in
   ``EZTASKMANAGER_ALLOWED_APPS``, or it belongs to one of the project's own apps.

An app is one of the project's own when its code is not installed with Python: its directory is
outside the standard library, outside every ``site-packages`` / ``dist-packages`` directory, and
it is neither Django (``django.*``) nor this package. Each run, save, load and launch asks
``refusal()``; for a stored ``AppCommand`` row, the row must also be active and name the app that
really provides the command.
"""

from __future__ import annotations

import functools
import site
import sys
import sysconfig
from pathlib import Path

from django.apps import apps
from django.core.exceptions import ValidationError

from eztaskmanager import conf
from eztaskmanager.core import functions
from eztaskmanager.internals.django import get_commands

# Commands that open a shell or a database shell, flush, load or dump data or settings, manage
# users or passwords, start servers or workers, enqueue arbitrary callables, change the schema
# or write into the source tree, and this package's own operator commands. No setting allows them.
DENIED_COMMANDS = frozenset(
    {
        # shells and arbitrary code
        "shell",
        "dbshell",
        "shell_plus",
        "notebook",
        "runscript",
        "rqenqueue",
        # data and settings out or in, data wiped
        "dumpdata",
        "loaddata",
        "flush",
        "sqlflush",
        "reset_db",
        "reset_schema",
        "remove_stale_contenttypes",
        "diffsettings",
        "print_settings",
        "dumpscript",
        "export_emails",
        # users and passwords
        "createsuperuser",
        "changepassword",
        "set_fake_passwords",
        "set_fake_emails",
        # servers and workers
        "runserver",
        "runserver_plus",
        "runprofileserver",
        "runmodwsgi",
        "testserver",
        "test",
        "rqworker",
        "rqworker-pool",
        "rqscheduler",
        "rqsuspend",
        # schema and source tree
        "migrate",
        "makemigrations",
        "squashmigrations",
        "optimizemigration",
        "startapp",
        "startproject",
        # this package's operator commands
        "taskmanager",
        "collectcommands",
    }
)
PACKAGE_APP = "eztaskmanager"
DJANGO_PREFIX = "django."
NOT_ALLOWED = "command not allowed: {name}"


class CommandNotAllowed(ValidationError):
    """A task names a command that the policy refuses."""


# -- where an app comes from --------------------------------------------------------------------


@functools.cache
def _installed_roots() -> tuple[Path, ...]:
    """Directories holding code installed with Python (standard library and packages)."""
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(getattr(site, "getsitepackages", list)())
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if user_site:
        roots.add(user_site)
    roots.add(str(Path(sys.base_prefix) / "lib"))
    return tuple(sorted({Path(root).resolve() for root in roots}))


@functools.cache
def is_installed_path(path: str) -> bool:
    """Whether ``path`` lies in the standard library or in a directory of installed packages."""
    resolved = Path(path).resolve()
    if {"site-packages", "dist-packages"} & set(resolved.parts):
        return True
    return any(resolved.is_relative_to(root) for root in _installed_roots())


def _app_config(app_name: str):
    for config in apps.get_app_configs():
        if config.name == app_name:
            return config
    return None


def is_project_app(app_name: str) -> bool:
    """Whether ``app_name`` (a module path, as ``get_commands()`` gives it) is the project's."""
    if app_name == "django" or app_name.startswith(DJANGO_PREFIX):
        return False
    if app_name == PACKAGE_APP or app_name.startswith(PACKAGE_APP + "."):
        return False
    config = _app_config(app_name)
    if config is None or not config.path:
        return False
    return not is_installed_path(config.path)


def _app_keys(app_name: str) -> set[str]:
    """The names a setting may use for an app: its module path and its label."""
    config = _app_config(app_name)
    return {app_name, config.label} if config is not None else {app_name}


# -- the decision -------------------------------------------------------------------------------


def why_refused(name: str, app_name: str | None = None) -> str | None:
    """None when the policy allows command ``name``; otherwise why it does not, in a sentence.

    ``app_name`` is the app a stored row says the command comes from; it must be the one that
    provides the command in this project.
    """
    if functions.is_function_name(name):
        return why_function_refused(name, app_name)
    if name in DENIED_COMMANDS:
        return f"{name!r} is in the built-in deny list, which no setting can undo."
    if name in set(conf.get("EXCLUDED_COMMANDS") or ()):
        return f"{name!r} is in EZTASKMANAGER_EXCLUDED_COMMANDS."
    provider = get_commands().get(name)
    if provider is None:
        return f"{name!r} is not a management command of this project."
    if app_name is not None and app_name != provider:
        return f"{name!r} is provided by {provider!r}, not by {app_name!r}."
    if name in explicitly_allowed():
        return None
    if _app_keys(provider) & set(conf.get("ALLOWED_APPS") or ()):
        return None
    if is_project_app(provider):
        return None
    return (
        f"{name!r} comes from {provider!r}, which is not one of the project's own apps; "
        f"add {name!r} to EZTASKMANAGER_ALLOWED_COMMANDS to allow it."
    )


def functions_allowed_in(app_name: str) -> bool:
    """Whether the policy allows the functions of app ``app_name`` as a whole (the project's
    own apps and ``EZTASKMANAGER_ALLOWED_APPS``), before any exclusion."""
    return bool(_app_keys(app_name) & set(conf.get("ALLOWED_APPS") or ())) or is_project_app(
        app_name
    )


def why_function_refused(name: str, app_name: str | None = None) -> str | None:
    """``why_refused`` for a ``@task`` function named by its dotted path: the same settings
    and the same rule of the project's own apps, decided from the name before the module is
    imported; then the name must lead to a module-level function decorated with ``@task``."""
    if name in set(conf.get("EXCLUDED_COMMANDS") or ()):
        return f"{name!r} is in EZTASKMANAGER_EXCLUDED_COMMANDS."
    config = functions.containing_app(name)
    if config is None:
        return f"{name!r} is not in a module of an installed app."
    if app_name is not None and app_name != config.name:
        return f"{name!r} is in {config.name!r}, not in {app_name!r}."
    if not (name in explicitly_allowed() or functions_allowed_in(config.name)):
        return (
            f"{name!r} is in {config.name!r}, which is not one of the project's own apps; "
            f"add {name!r} to EZTASKMANAGER_ALLOWED_COMMANDS to allow it."
        )
    try:
        functions.load(name)
    except functions.NotATaskFunction as exc:
        return str(exc)
    return None


def explain(command) -> str | None:
    """Why ``command`` (an ``AppCommand`` row or a name) may not run, or None if it may."""
    if isinstance(command, str):
        return why_refused(command)
    if not command.active:
        return f"{command.name!r} is inactive."
    return why_refused(command.name, command.app_name)


def refusal(command) -> str | None:
    """None when ``command`` (row or name) may run, else ``"command not allowed: <name>"``."""
    if explain(command) is None:
        return None
    name = command if isinstance(command, str) else command.name
    return NOT_ALLOWED.format(name=name)


def refusal_explained(command) -> str | None:
    """``refusal()`` followed by why, with the setting that would allow it when one can:
    what a save, a launch and a schedule say when they are refused."""
    reason = explain(command)
    if reason is None:
        return None
    name = command if isinstance(command, str) else command.name
    return f"{NOT_ALLOWED.format(name=name)}: {reason}"


def check(command) -> None:
    """Raise ``CommandNotAllowed`` when ``command`` (row or name) may not run."""
    refused = refusal_explained(command)
    if refused is not None:
        raise CommandNotAllowed(refused, code="not_allowed")


def explicitly_allowed() -> set[str]:
    """The commands ``EZTASKMANAGER_ALLOWED_COMMANDS`` names."""
    return set(conf.get("ALLOWED_COMMANDS") or ())


def overridden_allowed() -> list[str]:
    """Commands that ``EZTASKMANAGER_ALLOWED_COMMANDS`` allows in vain: the built-in deny list
    refuses them all the same."""
    return sorted(explicitly_allowed() & DENIED_COMMANDS)


def allowed_commands() -> dict[str, str]:
    """``{command name: app name}`` of every command the policy allows, in name order."""
    return {
        name: app_name
        for name, app_name in sorted(get_commands().items())
        if why_refused(name) is None
    }


def allowing_setting(name: str) -> str:
    """The setting line that would allow command ``name``, for messages; "" if none can."""
    if name in DENIED_COMMANDS:
        return ""
    if name in set(conf.get("EXCLUDED_COMMANDS") or ()):
        return f"remove {name!r} from EZTASKMANAGER_EXCLUDED_COMMANDS"
    return f'EZTASKMANAGER_ALLOWED_COMMANDS = [..., "{name}"]'
