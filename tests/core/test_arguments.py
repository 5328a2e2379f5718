import pytest

from eztaskmanager.core import arguments
from eztaskmanager.core.arguments import ArgumentsError, split_pieces, tokenize, validate


def echo_parser():
    return arguments.command_parser("eztm_echo")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("   ", []),
        ("a", ["a"]),
        (
            "-f, --second p1 p2, --third=pippo, --third",
            ["-f", "--second p1 p2", "--third=pippo", "--third"],
        ),
        ('--title "a, b", x', ['--title "a, b"', "x"]),
        ("--title 'a, b' , , y", ["--title 'a, b'", "y"]),
        (r"--title a\,b", [r"--title a\,b"]),
    ],
)
def test_split_pieces_respects_quotes(text, expected):
    assert split_pieces(text) == expected


def test_unclosed_quote_is_an_error():
    with pytest.raises(ArgumentsError, match="closing quotation"):
        split_pieces('--title "a, b')


def test_legacy_comma_format_without_parser():
    assert tokenize("-f, --secondarg param1 param2, --thirdarg=pippo, --thirdarg") == [
        "-f",
        "--secondarg",
        "param1",
        "param2",
        "--thirdarg=pippo",
        "--thirdarg",
    ]


def test_legacy_multiword_value_joins_for_single_value_option():
    # 0.5.x gave "--title hello world" one value, "hello world".
    assert tokenize("--title hello world, --count 2", echo_parser()) == [
        "--title",
        "hello world",
        "--count",
        "2",
    ]


def test_multiword_value_stays_split_for_multi_value_option():
    assert tokenize("--pair a b", echo_parser()) == ["--pair", "a", "b"]


def test_quoted_values_keep_commas_and_blanks():
    assert tokenize("--title \"a, b\", --tag 'x y'", echo_parser()) == [
        "--title",
        "a, b",
        "--tag",
        "x y",
    ]


def test_repeated_option_is_kept_twice():
    argv = tokenize("--tag a, --tag b", echo_parser())
    assert argv == ["--tag", "a", "--tag", "b"]
    assert validate(argv, echo_parser()).tag == ["a", "b"]


def test_lone_equals_sign_of_legacy_format():
    assert tokenize("--title = hello", echo_parser()) == ["--title", "hello"]


def test_validate_gives_the_parser_message():
    with pytest.raises(ArgumentsError) as info:
        validate(["--count", "many"], echo_parser())
    assert str(info.value) == "argument --count: invalid int value: 'many'"


def test_validate_unknown_option():
    with pytest.raises(ArgumentsError, match="unrecognized arguments: --nope"):
        validate(["--nope"], echo_parser())


def test_validate_help_is_refused_not_exiting():
    with pytest.raises(ArgumentsError, match="exit"):
        validate(["--help"], echo_parser())


def test_validate_leaves_parser_usable_afterwards():
    parser = echo_parser()
    with pytest.raises(ArgumentsError):
        validate(["--count", "x"], parser)
    assert validate(["--count", "3"], parser).count == 3


def test_missing_required_argument_message():
    parser = arguments.command_parser("eztm_lines")
    with pytest.raises(ArgumentsError, match="the following arguments are required: n"):
        validate([], parser)


# -- an option swallowed by the value of another -----------------------------------------------


@pytest.mark.parametrize(
    "text, other",
    [
        ("--title backup --count 3", "--count"),
        ("--title backup --shout", "--shout"),
        ("--title a b --count=3", "--count"),
        ("--title backup --cou 3", "--cou"),  # an abbreviation argparse would accept
        ("x, --title backup --tag y, --shout", "--tag"),
    ],
)
def test_an_unquoted_value_holding_another_option_is_refused(text, other):
    with pytest.raises(ArgumentsError) as err:
        arguments.refuse_swallowed_options(text, echo_parser())
    assert f"put a comma before {other}, or quote the value." in str(err.value)
    assert str(err.value).startswith("--title would get the value ")


@pytest.mark.parametrize(
    "text",
    [
        "--title hello world",  # one value of several words, as documented
        "--title backup, --count 3",
        '--title "backup --count 3"',
        "--title 'a --shout'",
        "--title a - b",
        "--pair a --shout",  # two values: argparse sees --shout as the next option
        "--title a --nonsense",  # not an option of the command: part of the value
    ],
)
def test_values_without_another_option_of_the_command_pass(text):
    arguments.refuse_swallowed_options(text, echo_parser())


@pytest.mark.django_db
def test_the_task_save_refuses_it_and_the_legacy_rule_keeps_its_reading(make_task):
    from django.core.exceptions import ValidationError

    task = make_task("eztm_echo", name="echo")
    task.arguments = "--title backup --count 3"
    with pytest.raises(ValidationError) as err:
        task.full_clean()
    assert err.value.message_dict["arguments"] == [
        "--title would get the value 'backup --count 3', which holds the option --count: put "
        "a comma before --count, or quote the value."
    ]
    task.arguments = "--title backup, --count 3"
    task.full_clean()
    assert task.complete_args == ["--title", "backup", "--count", "3"]

    task.legacy_arguments = True  # a task from 0.5.x: its words, read as 0.5.x read them
    task.arguments = "--title backup --count 3"
    task.full_clean()
    assert task.complete_args == ["--title", "backup --count 3"]


@pytest.mark.django_db
def test_run_once_arguments_are_checked_the_same_way(make_task):
    from eztaskmanager import operations

    task = make_task("eztm_echo", name="echo")
    with pytest.raises(operations.BadArguments, match="put a comma before --count"):
        operations.check_arguments(task, "--title backup --count 3")
