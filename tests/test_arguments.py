import pytest

from eztaskmanager import arguments
from eztaskmanager.arguments import ArgumentsError, split_pieces, tokenize, validate


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
