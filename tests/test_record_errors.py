"""The build's errors about bad records: every row at once, capped, with the likely cause."""

from __future__ import annotations

import pytest

from staticml.config import load_config
from staticml.record_errors import MAX_LISTED, BadRow, bad_row, bad_rows, declaration_hint
from staticml.runtime.engine import PreprocessError
from staticml.runtime.schema import RecordError, validate
from tests.support.configs import write

FIELDS = """\
[app]
name = "t"
[model]
train = "train:train"
[preprocess]
entry = "pkg.pre:features"
[[input]]
name = "count"
type = "integer"
min = 1
[[input]]
name = "site"
type = "category"
choices = ["Clinic A", "Clinic C"]
[[input]]
name = "size"
type = "number"
"""


@pytest.fixture
def config(tmp_path):
    return load_config(write(tmp_path, FIELDS))


def refusal(config, record):
    with pytest.raises(RecordError) as raised:
        validate(
            {"count": 2, "site": "Clinic A", "size": 1, **record}, [f.spec() for f in config.input]
        )
    return raised.value


def line_of(text, wanted, after):
    """The 1-based line of `wanted`, the first such line after the line `after`."""
    lines = text.splitlines()
    return lines.index(wanted, lines.index(after)) + 1


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"count": "24.49"},
            "input 'count' (input[0]) is declared type = \"integer\" at staticml.toml:{type}; "
            'if its values can have fractions, declare type = "number"',
        ),
        (
            {"site": "Clinic B"},
            "input 'site' (input[1]) allows only the choices at staticml.toml:{choices}; "
            "if 'Clinic B' is valid, add it there",
        ),
        (
            {"size": "large"},
            "input 'size' (input[2]) is declared type = \"number\" at staticml.toml:{size}; "
            'if its values are words, declare type = "category" with their choices',
        ),
        (
            {"count": 0},
            "input 'count' (input[0]) sets min at staticml.toml:{min}; if the value is valid, "
            "change the bound",
        ),
    ],
)
def test_the_declaration_a_value_fails_against_is_named_with_its_line(config, record, expected):
    lines = {
        "type": line_of(FIELDS, 'type = "integer"', 'name = "count"'),
        "min": line_of(FIELDS, "min = 1", 'name = "count"'),
        "choices": line_of(FIELDS, 'choices = ["Clinic A", "Clinic C"]', 'name = "site"'),
        "size": line_of(FIELDS, 'type = "number"', 'name = "size"'),
    }
    assert declaration_hint(config, refusal(config, record)) == expected.format(**lines)


def test_a_missing_value_points_at_its_field(config):
    error = refusal(config, {"site": ""})
    header = line_of(FIELDS, "[[input]]", 'name = "count"')
    assert declaration_hint(config, error) == (
        f"input 'site' (input[1]) is required (staticml.toml:{header}); give it a default, or "
        "required = false if records may leave it out"
    )


def test_problems_that_are_not_the_declarations_have_no_hint(config):
    assert declaration_hint(config, refusal(config, {"size": "inf"})) is None
    assert declaration_hint(config, refusal(config, {"colour": "red"})) is None
    row = bad_row(config, "eval.csv:3", PreprocessError("preprocessing (pkg.pre:f) rejected it"))
    assert row == BadRow("eval.csv:3", "preprocessing (pkg.pre:f) rejected it", ())


def test_every_bad_row_is_listed_up_to_the_cap_and_the_rest_counted(config):
    rows = [
        bad_row(config, f"eval.csv:{n}", refusal(config, {"count": f"{n}.5"}))
        for n in range(2, 2 + MAX_LISTED + 5)
    ] + [bad_row(config, "eval.csv:40", refusal(config, {"site": "Clinic B"}))]
    message = str(bad_rows("compress.eval_file /app/eval.csv", rows, 60))
    lines = message.splitlines()
    assert lines[0] == f"compress.eval_file /app/eval.csv has {MAX_LISTED + 6} bad row(s) of 60:"
    assert lines[1 : MAX_LISTED + 1] == [
        f"  eval.csv:{n}: count: expected a whole number, got '{n}.5'"
        for n in range(2, 2 + MAX_LISTED)
    ]
    assert lines[MAX_LISTED + 1] == "  ... and 6 more bad rows"
    assert "eval.csv:40" not in message
    # the causes are listed once each, the unlisted rows' too
    assert lines[MAX_LISTED + 3 :] == [
        f"  {rows[0].hints[0]}",
        f"  {rows[-1].hints[0]}",
        "Fix the rows (or the declarations) and build again.",
    ]


def test_a_row_with_several_bad_fields_gets_a_hint_for_each(config):
    row = bad_row(config, "eval.csv:5", refusal(config, {"count": "2.5", "site": "Clinic B"}))
    assert row.problem.startswith("count: expected a whole number, got '2.5'; site: ")
    assert [hint.split(" ")[1] for hint in row.hints] == ["'count'", "'site'"]
