"""Field types of the browser runtime's validator (image fields: see test_worker.py)."""

from __future__ import annotations

import math

import pytest

from staticml.runtime.schema import RecordError, RecordErrors, check_value, validate

SIZE = {"name": "size", "type": "number", "label": "Size", "min": 0, "max": 10}
COUNT = {"name": "count", "type": "integer", "min": 1, "required": False}
COLOUR = {"name": "colour", "type": "category", "choices": ["red", "green", "1"], "default": "red"}
NOTES = {"name": "notes", "type": "text", "maxLength": 5, "required": False}
FIELDS = [SIZE, COUNT, COLOUR, NOTES]


@pytest.mark.parametrize(
    ("field", "given", "expected"),
    [
        (SIZE, 3, 3.0),
        (SIZE, "3.5", 3.5),
        (SIZE, " 1e1 ", 10.0),
        (COUNT, "7", 7),
        (COUNT, 7.0, 7),
        (COLOUR, "green", "green"),
        (COLOUR, 1, "1"),
        (COLOUR, 1.0, "1"),
        (NOTES, "hello", "hello"),
    ],
)
def test_values_are_converted(field, given, expected):
    value = check_value(field["name"], field, given)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "given", "message"),
    [
        (SIZE, "abc", "size: expected a number, got 'abc'"),
        (SIZE, True, "size: expected a number, got bool True"),
        (SIZE, 11, "size: expected a number from 0 to 10, got 11"),
        (SIZE, -0.5, "size: expected a number from 0 to 10, got -0.5"),
        (SIZE, "inf", "size: expected a finite number, got 'inf'"),
        (SIZE, [1], "size: expected a number, got list [1]"),
        (COUNT, "1.5", "count: expected a whole number, got '1.5'"),
        (COUNT, 0, "count: expected a whole number of at least 1, got 0"),
        (COLOUR, "blue", "colour: expected one of 'red', 'green', '1', got 'blue'"),
        (COLOUR, ["red"], "colour: expected one of 'red', 'green', '1', got list"),
        (NOTES, "too long", "notes: expected at most 5 characters, got 8"),
        (NOTES, 5, "notes: expected text, got int"),
    ],
)
def test_bad_values_name_the_field_and_the_rule(field, given, message):
    with pytest.raises(RecordError) as raised:
        check_value(field["name"], field, given)
    assert str(raised.value) == message
    assert raised.value.field == field["name"]


@pytest.mark.parametrize(
    ("field", "given", "setting"),
    [
        (COUNT, "1.5", "type"),
        (SIZE, "abc", "type"),
        (SIZE, 11, "max"),
        (COUNT, 0, "min"),
        (COLOUR, "blue", "choices"),
        (NOTES, "too long", "max_length"),
        (SIZE, "inf", None),
        (SIZE, True, None),
        (NOTES, 5, None),
    ],
)
def test_a_refusal_names_the_declaration_that_may_be_wrong(field, given, setting):
    with pytest.raises(RecordError) as raised:
        check_value(field["name"], field, given)
    assert raised.value.setting == setting
    assert raised.value.value == (given if setting else None)


def test_missing_values_take_defaults_or_none_or_fail():
    record = validate({"size": "2", "count": "", "colour": None, "notes": math.nan}, FIELDS)
    assert record == {"size": 2.0, "count": None, "colour": "red", "notes": None}
    with pytest.raises(RecordError, match=r"^size: missing required field \(Size\)$"):
        validate({"size": "  "}, FIELDS)


def test_only_declared_fields_are_kept_and_unknown_ones_refused():
    with pytest.raises(RecordError, match="weight: unknown field"):
        validate({"size": 1, "weight": 3}, FIELDS)
    assert set(validate({"size": 1}, FIELDS)) == {"size", "count", "colour", "notes"}


def test_large_choice_lists_are_abbreviated():
    field = {"name": "c", "type": "category", "choices": [str(i) for i in range(30)]}
    with pytest.raises(RecordError, match=r"'9' \(and 20 more\), got 'x'"):
        check_value("c", field, "x")


def test_every_bad_field_is_reported_at_once_in_the_fields_order():
    record = {"notes": "too long", "size": "abc", "count": "0", "colour": "green", "weight": 3}
    with pytest.raises(RecordErrors) as raised:
        validate(record, FIELDS)
    problems = [(problem.field, problem.message) for problem in raised.value.problems]
    assert problems == [
        ("weight", "unknown field; this app's fields are 'size', 'count', 'colour', 'notes'"),
        ("size", "expected a number, got 'abc'"),
        ("count", "expected a whole number of at least 1, got 0"),
        ("notes", "expected at most 5 characters, got 8"),
    ]
    assert (raised.value.field, raised.value.message) == problems[0]
    assert str(raised.value) == "; ".join(f"{field}: {message}" for field, message in problems)


def test_one_bad_field_reads_as_before():
    with pytest.raises(RecordErrors) as raised:
        validate({"size": 11}, FIELDS)
    assert str(raised.value) == "size: expected a number from 0 to 10, got 11"
    assert raised.value.field == "size" and len(raised.value.problems) == 1
    assert isinstance(raised.value, RecordError)


def test_a_record_that_is_not_an_object_is_one_problem():
    with pytest.raises(RecordErrors) as raised:
        validate(["size", 1], FIELDS)
    assert [problem.field for problem in raised.value.problems] == [""]
    assert str(raised.value).startswith("a record must be an object with fields 'size',")


def test_missing_and_bad_fields_are_reported_together():
    with pytest.raises(RecordErrors) as raised:
        validate({"count": "1.5"}, FIELDS)
    assert str(raised.value) == (
        "size: missing required field (Size); count: expected a whole number, got '1.5'"
    )
