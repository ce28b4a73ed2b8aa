"""A model that takes the record's fields directly: one input tensor per field, no preprocessing.

A scikit-learn `Pipeline` whose `ColumnTransformer` encodes string categories itself converts
to an ONNX graph with one `[batch, 1]` input per column (`staticml.stages.model`). Such a
model is fed from the validated record: a number field as float32, a missing one as NaN (what
a `SimpleImputer` replaces); a category as its text, a missing one as the empty string (what
a string `SimpleImputer(missing_values="")` replaces, and an unknown category to an encoder
with `handle_unknown="ignore"`). CPython (`staticml.cpython.model_feed`) and the page's worker
build the same tensors from `Columns`. Standard library only: the runtime wheel ships it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from staticml.runtime.jsonable import JsonRecord

FLOAT = "float"
STRING = "string"
MISSING_TEXT = ""


@dataclass(frozen=True)
class ModelInput(JsonRecord):
    """One input of the model: the field that feeds it and its tensor type (`INPUT_TYPES`)."""

    name: str
    type: str

    def value(self, record: Mapping[str, Any]) -> float | str:
        """The record's value for this input, as the tensor holds it."""
        given = record.get(self.name)
        if self.type == STRING:
            return MISSING_TEXT if given is None else str(given)
        if given is None or given == "":
            return math.nan
        return float(given)


Row = list[float | str]


def row_of(record: Mapping[str, Any], inputs: Sequence[ModelInput]) -> Row:
    """One validated record as the model's inputs, in their order."""
    try:
        return [model_input.value(record) for model_input in inputs]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a field the model takes as a number is not one: {exc}") from exc


class Columns:
    """The inputs of many rows, column by column: an `array('f')` per float input, a list of
    text per string input; `as_dict()` is what the worker turns into tensors."""

    def __init__(self, inputs: Sequence[ModelInput]) -> None:
        self.inputs = tuple(inputs)
        self.data: list[array | list[str]] = [
            array("f") if i.type == FLOAT else [] for i in self.inputs
        ]
        self.rows = 0

    def append(self, row: Row) -> None:
        for column, value in zip(self.data, row, strict=True):
            column.append(value)  # type: ignore[arg-type]
        self.rows += 1

    def row(self, index: int) -> Row:
        return [column[index] for column in self.data]
