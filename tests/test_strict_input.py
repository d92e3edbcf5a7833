"""The strict checks the configuration file and drill scenarios share (actions/strict_input.py)."""

from __future__ import annotations

import pytest

from actions.strict_input import (
    TABLE,
    choice_problem,
    flag_problem,
    number_problem,
    text_problem,
    type_name,
    unknown_keys,
)


@pytest.mark.parametrize(("value", "name"), [
    (None, "nothing"), (True, "true/false"), (3, "a number"), (2.5, "a number"),
    ("x", "text"), ([1], "a list"), ({"a": 1}, "a mapping"),
])
def test_a_found_value_is_named_by_its_kind_never_echoed(value: object, name: str) -> None:
    assert type_name(value) == name
    assert type_name({}, mapping=TABLE) == "a table"


def test_text_says_what_was_expected_and_what_was_found() -> None:
    assert text_problem("istio", choices=("istio", "linkerd")) is None
    assert text_problem(7) == "expected text, got a number"
    assert text_problem({}, mapping=TABLE) == "expected text, got a table"
    assert text_problem("", non_empty=True) == "expected non-empty text, got an empty text"
    assert text_problem("  ", non_empty=True) == "expected non-empty text, got only spaces"
    assert text_problem("cilium", choices=("istio", "linkerd")) == (
        "'cilium' is not one of istio, linkerd")
    assert choice_problem("P5", ("P0", "P1")) == "'P5' is not one of P0, P1"
    assert choice_problem("anything", ()) is None  # no choices: any text


def test_numbers_refuse_true_false_and_say_the_bound() -> None:
    assert number_problem(True) == "expected a number, got true/false"
    assert number_problem("587", integer=True) == "expected a whole number, got text"
    assert number_problem(1.5, integer=True) == "expected a whole number, got a number"
    assert number_problem(0, minimum=1) == "must be at least 1, got 0"
    assert number_problem(0, positive=True) == "must be greater than 0, got 0"
    assert number_problem(0.5, minimum=0, positive=True) is None
    assert flag_problem("yes") == "expected true or false, got text"
    assert flag_problem(False) is None


def test_unknown_keys_are_named_with_the_closest_known_one() -> None:
    found = list(unknown_keys({"chanel": 1, "channel": 2, "zzz": 3}, {"channel", "severities"}))
    assert found == [
        ("chanel", "unknown key (did you mean 'channel'?); known keys here: channel, severities"),
        ("zzz", "unknown key; known keys here: channel, severities"),
    ]
    assert list(unknown_keys({1: "a YAML key that is a number"}, {"x"})) == [
        ("1", "unknown key; known keys here: x")]
