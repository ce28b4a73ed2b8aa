"""The build's errors about an app's records: every bad row at once, each said where it is.

A row is named by where it is written (`eval.csv:3`, or `item 3` of an app function's list) and
the field at fault. When the field's declaration in staticml.toml may be what is wrong (a
fraction in an `integer` field, a value missing from `choices`), the error says so, with the
declaration's line. A preprocessing that returns the wrong number of features is no fault of
any row: it is reported once, naming its entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.runtime.engine import FeatureCountError
from staticml.runtime.schema import RecordError

MAX_LISTED = 10
"""Bad rows listed in one error; the rest are counted."""


@dataclass(frozen=True)
class BadRow:
    """A row that is not a valid record: where it is, what is wrong, and what may be the cause."""

    where: str
    problem: str
    hints: tuple[str, ...] = ()


def bad_row(config: AppConfig, where: str, error: ValueError) -> BadRow:
    """The row at `where` (`eval.csv:3`) and why it failed (a RecordError or PreprocessError),
    with a hint for each of its bad fields whose declaration may be the cause."""
    problems = getattr(error, "problems", (error,)) if isinstance(error, RecordError) else ()
    hints = (declaration_hint(config, problem) for problem in problems)
    return BadRow(where, str(error), tuple(hint for hint in hints if hint))


def bad_rows(
    source: str, rows: Sequence[BadRow], total: int, again: str = "build again"
) -> BuildError:
    """One error listing the first `MAX_LISTED` bad `rows` of the `total` from `source`.

    The declarations that may be the cause are listed once each, after the rows; `again` is
    what to do once they are fixed.
    """
    shown = [f"  {row.where}: {row.problem}" for row in rows[:MAX_LISTED]]
    if len(rows) > MAX_LISTED:
        shown.append(f"  ... and {len(rows) - MAX_LISTED} more bad rows")
    hints = list(dict.fromkeys(hint for row in rows for hint in row.hints))
    if hints:
        shown.append("If those values are right, a declaration in staticml.toml may be wrong:")
        shown.extend(f"  {hint}" for hint in hints)
    return BuildError(
        f"{source} has {len(rows)} bad row(s) of {total}:\n"
        + "\n".join(shown)
        + f"\nFix the rows (or the declarations) and {again}."
    )


def feature_count(config: AppConfig, error: FeatureCountError, where: str) -> BuildError:
    """The error for a preprocessing whose vectors do not fit the model (first seen at `where`)."""
    batch = config.preprocess.batch
    key = (
        "preprocess.batch"
        if batch is not None and error.entry == str(batch)
        else "preprocess.entry"
    )
    return BuildError(
        f"{key} = '{error.entry}' ({_at(config, key)}) returns {error.got} features per record, "
        f"but the model expects {error.expected} (seen first on {where}). Make the "
        f"preprocessing return {error.expected} features, or give a model that takes {error.got}."
    )


def declaration_hint(config: AppConfig, error: RecordError) -> str | None:
    """What in the field's declaration may be wrong, and its line; None if nothing is likely."""
    name = error.field.split(".")[0].split("[")[0]
    index = next((i for i, f in enumerate(config.input) if f.name == name), None)
    if error.setting is None or index is None:
        return None
    field = config.input[index]
    at = _at(config, f"input[{index}].{error.setting}")
    subject = f"input {name!r} (input[{index}])"
    if error.setting == "type":
        if field.type == "integer" and _is_number(error.value):
            return (
                f'{subject} is declared type = "integer" at {at}; if its values can have '
                'fractions, declare type = "number"'
            )
        return (
            f'{subject} is declared type = "{field.type}" at {at}; if its values are words, '
            'declare type = "category" with their choices'
        )
    if error.setting == "choices":
        return (
            f"{subject} allows only the choices at {at}; if {error.value!r} is valid, add it there"
        )
    if error.setting in ("min", "max"):
        return f"{subject} sets {error.setting} at {at}; if the value is valid, change the bound"
    if error.setting == "max_length":
        return f"{subject} sets its max_length at {at}; if the text is valid, raise it"
    if error.setting == "required":
        return (
            f"{subject} is required ({at}); give it a default, or required = false if records "
            "may leave it out"
        )
    return None


def _at(config: AppConfig, key: str) -> str:
    line = config.line(key)
    return f"{config.source.name}:{line}" if line else config.source.name


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
