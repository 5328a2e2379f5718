"""Parse a Task's ``arguments`` text into argv tokens and check them against the command.

Two notations are accepted, and may be mixed:

* the comma notation of 0.5.x: ``-f, --secondarg param1 param2, --thirdarg=pippo``
  (arguments separated by commas, an option's value after a blank or ``=``);
* shell-style quoting inside each comma-separated piece, so that a value may hold commas and
  blanks: ``--title "a, b", --tag x, --tag y``.

The text is split on commas that are outside quotes, and each piece is split like a shell
line. Tokens keep their order and repetitions, so ``--tag a, --tag b`` reaches the command as
``--tag a --tag b``.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from eztaskmanager.internals import argparse as argparse_internals
from eztaskmanager.internals.django import get_commands, load_command_class


class ArgumentsError(ValueError):
    """The arguments text cannot be split or is refused by the command's parser."""


def split_pieces(text: str) -> list[str]:
    """Split ``text`` on commas outside single or double quotes; drop empty pieces."""
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for char in text or "":
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\" and quote != "'":
            current.append(char)
            escaped = True
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == ",":
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote:
        raise ArgumentsError(f"No closing quotation ({quote}) in arguments.")
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


@dataclass
class Piece:
    """One comma-separated piece, as shell tokens."""

    tokens: list[str] = field(default_factory=list)

    @property
    def is_option(self) -> bool:
        return bool(self.tokens) and self.tokens[0].startswith("-") and len(self.tokens[0]) > 1


def _tokenize_piece(piece: str) -> Piece:
    try:
        tokens = shlex.split(piece)
    except ValueError as exc:
        raise ArgumentsError(f"Cannot read arguments {piece!r}: {exc}.") from exc
    # 0.5.x accepted "--opt = value": a lone "=" between option and value.
    if len(tokens) >= 3 and tokens[1] == "=" and tokens[0].startswith("-"):
        tokens = [tokens[0], *tokens[2:]]
    return Piece(tokens)


def _single_value_options(parser: argparse.ArgumentParser | None) -> set[str]:
    """Option strings whose action takes exactly one value."""
    if parser is None:
        return set()
    names: set[str] = set()
    for action in argparse_internals.actions(parser):
        if action.option_strings and action.nargs in (None, "?") and not _is_flag(action):
            names.update(action.option_strings)
    return names


def _is_flag(action: argparse.Action) -> bool:
    return action.nargs == 0


def values_taken(action: argparse.Action | None) -> int:
    """How many following tokens an option consumes at most (unknown options: one)."""
    if action is None or action.nargs in (None, "?"):
        return 1 if action is None or not _is_flag(action) else 0
    if isinstance(action.nargs, int):
        return action.nargs
    return 0 if action.nargs == 0 else 10**6


def tokenize(text: str, parser: argparse.ArgumentParser | None = None) -> list[str]:
    """Return the argv tokens for ``text``.

    With ``parser``, a piece written in the 0.5.x way as an option followed by several blank
    separated words (``--title hello world``) gives the option a single value made of those words
    when the option takes one value, as 0.5.x did.
    """
    single = _single_value_options(parser)
    argv: list[str] = []
    for raw in split_pieces(text):
        piece = _tokenize_piece(raw)
        tokens = piece.tokens
        if piece.is_option and len(tokens) > 2 and tokens[0] in single:
            tokens = [tokens[0], " ".join(tokens[1:])]
        argv.extend(tokens)
    return argv


def refuse_swallowed_options(text: str, parser: argparse.ArgumentParser | None) -> None:
    """Raise ArgumentsError when an unquoted value of a one-value option holds another option
    of the command: ``--source backup --rows 3`` would run with ``source="backup --rows 3"``.

    ``--title hello world`` keeps its meaning (one value of blank-separated words); checked on
    save and on launch, not when a stored task runs.
    """
    if parser is None:
        return
    single = _single_value_options(parser)
    known = [o for action in parser._actions for o in action.option_strings]
    for raw in split_pieces(text):
        piece = _tokenize_piece(raw)
        tokens = piece.tokens
        if not (piece.is_option and len(tokens) > 2 and tokens[0] in single):
            continue
        for token in tokens[2:]:
            if _names_an_option(token, known):
                raise ArgumentsError(
                    _(
                        "%(option)s would get the value %(value)s, which holds the option "
                        "%(other)s: put a comma before %(other)s, or quote the value."
                    )
                    % {
                        "option": tokens[0],
                        "value": repr(" ".join(tokens[1:])),
                        "other": token.partition("=")[0],
                    }
                )


def _names_an_option(token: str, known: list[str]) -> bool:
    """Whether ``token`` is one of the ``known`` option strings, or an abbreviation of a long
    one (argparse accepts those), with or without ``=value``."""
    name = token.partition("=")[0]
    if not name.startswith("-") or name in ("-", "--"):
        return False
    if name in known:
        return True
    return name.startswith("--") and any(o.startswith(name) for o in known if o.startswith("--"))


def validate(argv: Iterable[str], parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse ``argv`` with ``parser`` and return the namespace, or raise ArgumentsError.

    The parser's ``error`` is replaced while it parses, so its own message becomes an
    ArgumentsError; a subcommand's parser (Django's CommandParser, built outside the command
    line) raises CommandError, turned into an ArgumentsError too.
    """
    from django.core.management.base import CommandError

    argv = list(argv)
    refuse_exiting_options(argv)

    def error(message: str):  # argparse's contract: must not return
        raise ArgumentsError(message)

    def printing(*args, **kwargs):  # help or version reached anyway (an abbreviation)
        raise ArgumentsError(EXITING_MESSAGE)

    # Instance attributes, so that nothing is printed on the web server's output.
    overrides = dict.fromkeys(argparse_internals.QUIET_METHODS, printing) | {"error": error}
    for name, value in overrides.items():
        setattr(parser, name, value)
    opening = without_opening_types(parser)
    try:
        return parser.parse_args(argv)
    except CommandError as exc:
        raise ArgumentsError(str(exc).removeprefix("Error: ")) from exc
    except SystemExit as exc:  # any other way of exiting without running
        raise ArgumentsError("These arguments make the command exit without running.") from exc
    finally:
        for name in overrides:
            delattr(parser, name)
        for action, original in opening:
            action.type = original


def checked_argv(text: str, parser: argparse.ArgumentParser, legacy: bool = False) -> list[str]:
    """The argv tokens of ``text`` once ``parser`` accepts them; else raise ArgumentsError.

    The one check of a task's arguments against its command: the task's save
    (``models.check_arguments``, called by ``Task.clean``), the task form's preview of the
    command line and a run once with other arguments all call it. ``legacy`` reads ``text``
    by the 0.5.x rule (``Task.legacy_arguments``), which reads values its own way: no refusal
    of a value that holds another option.
    """
    if legacy:
        argv = legacy_tokenize(text)
    else:
        refuse_swallowed_options(text, parser)
        argv = tokenize(text, parser)
    validate(argv, parser)
    return argv


def path_value(value: str) -> str:
    """What validation checks of a ``FileType`` option's value instead of opening it: a path
    (or ``-``, the standard stream) that is not empty and holds no NUL character."""
    if not value or not value.strip() or "\x00" in value:
        raise argparse.ArgumentTypeError(_("a file path is required"))
    return value


def without_opening_types(parser: argparse.ArgumentParser) -> list[tuple[argparse.Action, object]]:
    """Replace, until restored, the ``type=`` of every ``FileType`` option of ``parser`` (and of
    its subcommands' parsers) with ``path_value``; return ``(action, original type)`` pairs.

    Validation runs in the web process, on save and on a run with other arguments: it must not
    open, create or truncate files. ``FileType`` is the side effect argparse itself offers; a
    command's own ``type=`` functions are expected to only convert their value.
    """
    replaced: list[tuple[argparse.Action, object]] = []
    seen: set[int] = set()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for action in argparse_internals.actions(current):
            if isinstance(action.type, argparse.FileType):
                replaced.append((action, action.type))
                action.type = path_value
            parsers.extend(argparse_internals.subcommand_parsers(action))
    return replaced


EXITING_MESSAGE = "--help and --version are not task arguments: they print and exit."
EXITING_OPTIONS = ("--help", "--version")


def refuse_exiting_options(argv: list[str]) -> None:
    """Raise ArgumentsError when ``argv`` asks for help or the version (or an abbreviation)."""
    for token in argv:
        if token == "--":
            return
        name = token.partition("=")[0]
        long_match = name.startswith("--") and len(name) > 2
        if (long_match and any(o.startswith(name) for o in EXITING_OPTIONS)) or (
            name.startswith("-h") and not name.startswith("--")
        ):
            raise ArgumentsError(EXITING_MESSAGE)


def command_parser(command_name: str, app_name: str | None = None) -> argparse.ArgumentParser:
    """Build the argparse parser of a management command."""
    if app_name is None:
        app_name = get_commands()[command_name]
    command = load_command_class(app_name, command_name)
    return command.create_parser("manage.py", command_name)


def option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Map every option string of ``parser`` to its action."""
    return {
        opt: action
        for action in argparse_internals.actions(parser)
        for opt in action.option_strings
    }


# -- the 0.5.x rule, kept for tasks created before the upgrade (Task.legacy_arguments) ----------

_LEGACY_PIECES = re.compile(r"\s*,\s*")
_LEGACY_CHUNKS = re.compile(r"\s*=\s*|\s+")


def legacy_pairs(text: str) -> dict[str, str | None]:
    """``{first word: rest or None}`` of each comma-separated piece, read as 0.5.x read them.

    Every ``=`` and every run of blanks separates words, and the words after the first are
    joined by one blank: ``--info=hello world`` gives ``{"--info": "hello world"}``. There is no
    quoting. A repeated first word keeps its first position and its last value. Empty pieces are
    skipped (0.5.x raised on them).
    """
    pairs: dict[str, str | None] = {}
    for piece in _LEGACY_PIECES.split(text or ""):
        words = [word for word in _LEGACY_CHUNKS.split(piece) if word]
        if words:
            pairs[words[0]] = " ".join(words[1:]) or None
    return pairs


def legacy_tokenize(text: str) -> list[str]:
    """The argv tokens 0.5.x passed to the command for ``text``."""
    return [token for pair in legacy_pairs(text).items() for token in pair if token is not None]


def legacy_split(text: str) -> tuple[list[str], dict[str, str]]:
    """0.5.x's ``Task.args`` and ``Task.options``: words without a value, and the others keyed
    by their first word without dashes (inner dashes as underscores)."""
    pairs = legacy_pairs(text)
    args = [word for word, value in pairs.items() if not value]
    options = {word.strip("-").replace("-", "_"): value for word, value in pairs.items() if value}
    return args, options
