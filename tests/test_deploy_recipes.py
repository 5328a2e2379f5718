"""The deployment recipes in ``deploy/`` parse, name real commands and stop gracefully.

Each recipe is checked by the tool that reads it where that is cheap (``systemd-analyze verify``,
supervisor's own config parser) and, always, for the settings that make a worker's stop graceful
and for ``manage.py`` command lines that the commands' own parsers accept.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, get_commands, load_command_class
from django.utils.module_loading import import_string
from rq import Worker
from supervisor.options import ServerOptions

from eztaskmanager import conf

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# The recipes' placeholders for the application's virtualenv and user.
VENV_BIN = "/srv/app/venv/bin/"
APP_USER = "app"
GRACE = conf.DEFAULTS["SHUTDOWN_GRACE_SECONDS"]


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}}; any line that is not INI fails."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if re.fullmatch(r"\[[A-Za-z]+\]", line):
            current = sections.setdefault(line[1:-1], {})
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert match and current is not None, f"{path.name}:{number}: not a unit line: {raw!r}"
        assert not line.endswith("\\"), f"{path.name}:{number}: continuation lines not expected"
        current.setdefault(match[1], []).append(match[2])
    return sections


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, f"not a simple duration: {value!r}"
    return int(match[1]) * (60 if match[2] == "min" else 1)


def manage_py_calls(command_line: str) -> list[list[str]]:
    """The argument lists of each ``manage.py`` call in a shell-like command line."""
    calls = []
    for part in command_line.split("&&"):
        words = shlex.split(part)
        if "manage.py" in words:
            calls.append(words[words.index("manage.py") + 1 :])
    return calls


def check_manage_py(arguments: list[str]) -> None:
    """The command exists and its own parser accepts the arguments."""
    name, rest = arguments[0], arguments[1:]
    commands = get_commands()
    assert name in commands, f"no management command {name!r}"
    command = load_command_class(commands[name], name)
    options = command.create_parser("manage.py", name).parse_args(rest)
    worker_class = getattr(options, "worker_class", None)
    if worker_class:
        assert issubclass(import_string(worker_class), Worker)


# systemd


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_has_the_keys_of_a_supervised_service(unit):
    sections = read_unit(unit)
    assert sections["Unit"]["Description"]
    service = sections["Service"]
    for key in ("User", "WorkingDirectory", "ExecStart", "TimeoutStopSec"):
        assert service.get(key), f"{unit.name}: no {key}="
    assert service["Restart"] == ["always"]
    assert seconds(service["RestartSec"][0]) <= 5
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    assert service["ExecStart"][0].startswith(VENV_BIN)


def test_worker_unit_stops_after_the_grace_period():
    service = read_unit(DEPLOY / "systemd" / "eztaskmanager-worker@.service")["Service"]
    # SIGTERM to the worker alone: it stops the work horse itself once the grace period is over.
    assert service["KillMode"] == ["mixed"]
    assert service["KillSignal"] == ["SIGTERM"]
    timeout = seconds(service["TimeoutStopSec"][0])
    assert GRACE + 10 <= timeout <= GRACE + 60, (timeout, GRACE)


def test_unit_command_lines_are_accepted_by_their_commands():
    for unit in UNITS:
        service = read_unit(unit)["Service"]
        # The worker template's queues: $QUEUES is the instance name, e.g. "default".
        command = service["ExecStart"][0].replace("$QUEUES", "default")
        for call in manage_py_calls(command):
            check_manage_py(call)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # verify checks that each ExecStart program exists: point the virtualenv placeholder at a
    # directory where every program named is this Python.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    names = []
    for unit in UNITS:
        text = unit.read_text()
        for program in re.findall(re.escape(VENV_BIN) + r"(\S+)", text):
            if not (bin_dir / program).exists():
                (bin_dir / program).symlink_to(sys.executable)
        (tmp_path / unit.name).write_text(text.replace(VENV_BIN, f"{bin_dir}/"))
        names.append(unit.name.replace("@.", "@default."))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    # Unknown keys or bad values are warnings on standard error with exit status 0.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


# supervisord


@pytest.fixture
def supervisor_programs(tmp_path):
    """The recipe's programs as supervisord itself reads them."""
    # supervisord looks the user up: use this machine's.
    recipe = (DEPLOY / "supervisord.conf").read_text()
    included = tmp_path / "eztaskmanager.conf"
    included.write_text(recipe.replace(f"user={APP_USER}\n", f"user={getpass.getuser()}\n"))
    main = tmp_path / "supervisord.conf"
    main.write_text(f"[supervisord]\n[include]\nfiles = {included}\n")
    options = ServerOptions()
    options.configfile = str(main)
    options.process_config(do_usage=False)
    return {
        group.name: group.process_configs[0]
        for group in options.process_group_configs
        if group.process_configs
    }


def test_supervisord_config_is_read_by_supervisor(supervisor_programs):
    assert set(supervisor_programs) == {
        "eztaskmanager-web",
        "eztaskmanager-worker",
        "eztaskmanager-scheduler",
    }
    for program in supervisor_programs.values():
        assert program.autorestart is not False
        assert program.directory == "/srv/app"
        assert program.environment["DJANGO_SETTINGS_MODULE"]
        for call in manage_py_calls(program.command):
            check_manage_py(call)


def test_supervisord_worker_stops_after_the_grace_period(supervisor_programs):
    worker = supervisor_programs["eztaskmanager-worker"]
    assert worker.stopsignal == 15  # SIGTERM: RQ's warm shutdown
    assert worker.stopasgroup is False  # the worker alone gets it, as with KillMode=mixed
    assert GRACE + 10 <= worker.stopwaitsecs <= GRACE + 60, (worker.stopwaitsecs, GRACE)


# Procfile


def test_procfile_lines_name_real_commands():
    processes = {}
    for number, line in enumerate((DEPLOY / "Procfile").read_text().splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([a-z][a-z0-9_-]*): (\S.*)", line)
        assert match, f"Procfile:{number}: not 'name: command': {line!r}"
        processes[match[1]] = match[2]
    assert {"web", "worker", "scheduler", "release"} <= set(processes)
    calls = [call for command in processes.values() for call in manage_py_calls(command)]
    assert len(calls) >= 5
    for call in calls:
        check_manage_py(call)


def test_a_bad_command_line_is_caught():
    # The checks above can fail: an unknown command, an unknown option, a worker class that is
    # not a worker.
    for bad in (
        ["rqwork", "default"],
        ["taskmanager", "schedule"],
        ["rqworker", "--worker-klass", "x", "default"],
        ["rqworker", "--worker-class", "eztaskmanager.models.Task", "default"],
    ):
        with pytest.raises((AssertionError, CommandError)):
            check_manage_py(bad)


# docs


def test_docs_include_every_recipe_file():
    operations = (ROOT / "docs" / "operations.rst").read_text()
    included = set(re.findall(r"\.\. literalinclude:: (\S+)", operations))
    recipes = {str(p.relative_to(ROOT)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert {f"../{recipe}" for recipe in recipes} <= included, sorted(recipes)
