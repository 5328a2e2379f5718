"""Read the code blocks of an RST page and carry them out in a scratch directory.

Used by ``test_getting_started``: the page is read when the test runs, so an edit of the page is
what gets tested. How each block is carried out:

- ``sh``: each line is a shell command, run with ``bash -c`` and the test virtualenv's ``bin``
  first on ``PATH`` (so ``python`` and ``django-admin`` are the ones with this package installed
  editable); it must exit with 0. ``cd DIR`` changes the directory of the next commands;
  ``pip install`` is not run (no network) but its package and extras must be installed here;
  ``createsuperuser`` gets ``--noinput`` and a user name, email and password; commands that run
  until stopped (``rqworker`` without ``--burst``, ``taskmanager scheduler``, ``taskmanager
  devserver``) are started in the background, and the caller says what to check (``on_server``).
- ``console``: ``$ command`` lines run as above; the lines under one are its expected output, where
  ``...`` stands for any text in a line and a line of just ``...`` for any number of lines.
- any other language (``python``, ``json``...) needs a ``:caption:`` naming the file to write,
  relative to the current directory; "(at the end)" after the name appends the block to the file.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

# Each command must be done by then (the slowest, a burst worker running a 3 s task, takes 4 s).
COMMAND_TIMEOUT = 90
SUPERUSER = ("admin", "admin@example.com", "a-long-password-for-the-test")


@dataclass
class Block:
    language: str
    caption: str
    text: str
    line: int  # where its directive is in the page, for messages

    def where(self) -> str:
        return f"the {self.language} block at line {self.line}"


def code_blocks(rst: str) -> list[Block]:
    """The ``.. code-block::`` directives of ``rst``, in order, with caption and dedented text."""
    lines = rst.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        directive = re.match(r"\.\. code-block::\s*(\S+)\s*$", lines[i])
        i += 1
        if not directive:
            continue
        start, options = i, {}
        while i < len(lines) and (option := re.match(r"\s+:([\w-]+):\s*(.*?)\s*$", lines[i])):
            options[option[1]] = option[2]
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            body.append(lines[i])
            i += 1
        text = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(directive[1], options.get("caption", ""), text, start))
    return blocks


def literal_blocks(rst: str) -> list[int]:
    """Line numbers of paragraphs ending in ``::`` (literal blocks, which the walkthrough
    cannot tell the purpose of: the page must use ``code-block`` directives)."""
    return [
        number
        for number, line in enumerate(rst.splitlines(), 1)
        if line.rstrip().endswith("::") and not line.lstrip().startswith("..")
    ]


def output_pattern(expected: str) -> re.Pattern:
    """``expected`` as a regular expression: ``...`` is any text in a line, and a line of just
    ``...`` any number of lines."""
    parts = []
    for line in expected.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*?".join(map(re.escape, line.rstrip().split("..."))) + r"\n")
    return re.compile("".join(parts))


def normalised(output: str) -> str:
    return "".join(line.rstrip() + "\n" for line in output.splitlines())


def console_steps(text: str) -> list[tuple[str, str]]:
    """``[(command, expected output)]`` of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"console block starts with output, not a command: {line!r}")
    return [(command, "\n".join(lines)) for command, lines in steps]


def runs_until_stopped(command: str) -> bool:
    words = shlex.split(command)
    if "rqworker" in words:
        return "--burst" not in words
    if "taskmanager" in words:
        sub = words[words.index("taskmanager") + 1 :]
        return sub[:1] == ["devserver"] or (sub[:1] == ["scheduler"] and "--burst" not in sub)
    return False


@dataclass
class Walkthrough:
    """Carries out the blocks of a page in ``root``, with ``replacements`` applied to each file
    the page has written (the test's own Redis URL instead of the page's)."""

    root: Path
    replacements: dict[str, str] = field(default_factory=dict)
    cwd: Path = None
    background: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.cwd = self.root
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH") and not key.startswith("EZTM_")
        }
        bin_dir = str(Path(sys.executable).parent)
        self.env["PATH"] = os.pathsep.join([bin_dir, self.env.get("PATH", "")])
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("VIRTUAL_ENV", None)

    # -- files --------------------------------------------------------------------------------

    def write_file(self, block: Block) -> Path:
        assert block.caption, f"{block.where()} has no :caption: naming its file"
        name, _, note = block.caption.partition(" ")
        path = self.cwd / name
        text = block.text
        for old, new in self.replacements.items():
            text = text.replace(old, new)
        if note == "(at the end)":
            assert path.exists(), f"{block.where()} adds to {name}, which does not exist"
            with path.open("a") as file:
                file.write("\n" + text)
        else:
            assert not note, f"{block.where()}: unknown caption note {note!r}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.transcript.append(f"# wrote {path.relative_to(self.root)}")
        return path

    # -- commands -----------------------------------------------------------------------------

    def prepared(self, command: str) -> tuple[str, dict[str, str]]:
        """The command as run here, and its environment."""
        env = dict(self.env)
        if shlex.split(command)[-1:] == ["createsuperuser"]:
            username, email, password = SUPERUSER
            command += f" --noinput --username {username} --email {email}"
            env["DJANGO_SUPERUSER_PASSWORD"] = password
        return command, env

    def run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        """Run ``command`` to its end; it must succeed."""
        command, env = self.prepared(command)
        self.transcript.append(f"$ {command}")
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{command!r} did not end within {timeout} s") from exc
        self.transcript.append(done.stdout + done.stderr)
        assert done.returncode == 0, (
            f"{command!r} exited with {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
        return done

    def start(self, command: str) -> subprocess.Popen:
        """Start ``command`` in the background, in a process group of its own."""
        command, env = self.prepared(command)
        log_path = self.root / f"background-{len(self.background)}.log"
        self.transcript.append(f"$ {command} &   # output in {log_path.name}")
        with log_path.open("w") as log:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append((process, log_path))
        return process

    def output(self, process: subprocess.Popen) -> str:
        for started, log_path in self.background:
            if started is process:
                return log_path.read_text(errors="replace")
        return ""

    def wait_for_output(self, process: subprocess.Popen, text: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.output(process)
            if text in output:
                return output
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"{' '.join(process.args[2:])!r} did not print {text!r} "
            f"(exit status {process.poll()}):\n{self.output(process)[-5000:]}"
        )

    def background_family(self, process: subprocess.Popen) -> list[int]:
        """The processes below ``process`` (bash having exec'd the command, its children)."""
        from tests.integration.conftest import descendants

        return descendants(process.pid)

    def stop_all(self) -> None:
        from tests.integration.conftest import descendants

        strays = [pid for process, _ in self.background for pid in descendants(process.pid)]
        for process, _ in self.background:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait(timeout=10)
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- blocks -------------------------------------------------------------------------------

    def shell_line(self, command: str, block: Block, on_server, on_pip) -> None:
        words = shlex.split(command)
        if words[:1] == ["cd"]:
            assert len(words) == 2, f"{block.where()}: {command!r}"
            self.cwd = (self.cwd / words[1]).resolve()
            assert self.cwd.is_dir(), f"{block.where()}: {command!r}: no such directory"
            self.transcript.append(f"$ {command}")
        elif words[:2] == ["pip", "install"]:
            on_pip(words[2:])
            self.transcript.append(f"# not run (no network; installed already): {command}")
        elif runs_until_stopped(command):
            on_server(self, command)
        else:
            self.run(command)

    def carry_out(self, block: Block, on_server, on_pip) -> None:
        if block.language == "sh":
            for line in block.text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    self.shell_line(line.strip(), block, on_server, on_pip)
        elif block.language == "console":
            for command, expected in console_steps(block.text):
                output = self.run(command).stdout
                assert output_pattern(expected).fullmatch(normalised(output)), (
                    f"{block.where()}: {command!r} printed\n{output}\nwhich is not what the page "
                    f"shows:\n{expected}"
                )
        else:
            self.write_file(block)
