"""argparse internals used to read a command's options and to parse task arguments quietly.

Why internals: argparse has no public way to list a parser's actions (what each option string
takes and where it goes), and no public hook for the one place that prints without going
through ``print_help``, ``print_usage`` or ``error``: a ``version`` action, which calls
``parser._print_message`` and then ``parser.exit()``. Both private names are used here only;
``tests/test_internals.py`` checks them against the running Python's argparse.

* ``actions(parser)``: ``parser._actions``, every ``argparse.Action`` in the order added.
* ``subcommand_parsers(action)``: the parsers of an ``add_subparsers()`` action, whose class
  (``argparse._SubParsersAction``) is private; its ``choices`` maps each name to its parser.
* ``QUIET_METHODS``: the methods ``arguments.validate`` replaces on a parser instance while it
  parses, so that nothing reaches the web server's output: ``error`` and ``print_help``
  (public, documented as overridable) and ``_print_message``.
"""

from __future__ import annotations

import argparse

# Instance attributes set while parsing, deleted afterwards: the class's methods come back.
QUIET_METHODS = ("error", "print_help", "_print_message")


def actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every action of ``parser`` (options and positionals), in the order they were added."""
    return list(parser._actions)


def subcommand_parsers(action: argparse.Action) -> list[argparse.ArgumentParser]:
    """The subcommands' parsers when ``action`` is an ``add_subparsers()`` action, else []."""
    if not isinstance(action, argparse._SubParsersAction):
        return []
    return list(dict.fromkeys(action.choices.values()))
