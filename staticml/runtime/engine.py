"""Turn records into the model's input: validate, run the app's preprocessing, pack floats.

A model that takes the record's fields directly (`PredictSpec.inputs`) has no preprocessing:
its records become `staticml.runtime.columns.Columns`, one column per model input.
"""

from __future__ import annotations

import importlib
import math
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from staticml.runtime.columns import Columns, Row, row_of
from staticml.runtime.contract import PredictSpec
from staticml.runtime.schema import RecordError, validate


class PreprocessError(ValueError):
    """The app's preprocessing rejected a valid record or returned an unusable vector."""


class FeatureCountError(PreprocessError):
    """The preprocessing `entry` returned `got` features where the model takes `expected`.

    This is a fault of the preprocessing (or the model), not of the record: every record gives
    it, so callers report it once.
    """

    def __init__(self, entry: str, got: int, expected: int) -> None:
        super().__init__(
            f"preprocessing ({entry}) returned {got} features; the model expects {expected}"
        )
        self.entry = entry
        self.got = got
        self.expected = expected


@dataclass
class Prepared:
    """Features for the records that could be used; a reason for each one that could not.

    `features` holds the float32 vectors one after the other; for a model taking the fields
    directly they are empty and `columns` holds the rows' inputs instead.
    """

    features: array = field(default_factory=lambda: array("f"))
    columns: Columns | None = None
    rows: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    failures: dict[int, ValueError] = field(default_factory=dict)  # the exception behind each error
    records: list[dict[str, Any]] = field(default_factory=list)  # validated, aligned with rows

    def fail(self, index: int, error: ValueError) -> None:
        self.errors[index] = str(error)
        self.failures[index] = error


class Predictor:
    """The in-browser half of prediction; the worker's JS runs the model on its output.

    `spec` is the `python` part of the worker configuration the build writes: the input
    fields, the preprocessing entry points (`module:function`) and the feature count; or,
    without an entry point, the model's `inputs`, fed from the record's fields.
    """

    def __init__(self, spec: PredictSpec) -> None:
        if spec.entry is None and not spec.inputs:
            raise ValueError("a PredictSpec needs a preprocessing entry point or model inputs")
        self.fields = list(spec.fields)
        self.n_features = spec.n_features
        self.inputs = spec.inputs
        self.entry = spec.entry or "the record's fields"
        self.batch_entry = spec.batch
        self._function = load_entry(spec.entry) if spec.entry else None
        self._batch = load_entry(self.batch_entry) if self.batch_entry else None

    @property
    def takes_fields(self) -> bool:
        """Whether the model takes the record's fields directly (no preprocessing)."""
        return self._function is None

    def features(self, record: Any) -> array | Row:
        """The float32 feature vector for one record (or, for a model taking the fields, its
        row of inputs), or RecordError/PreprocessError."""
        return self.prepare(record)[1]

    def prepare(self, record: Any) -> tuple[dict[str, Any], array | Row]:
        """The validated record and its feature vector."""
        checked = validate(record, self.fields)
        return checked, self._run(checked)

    def features_for(self, records: Sequence[Any]) -> Prepared:
        """Features for many records; an invalid record becomes an error, never a gap.

        An item may also be the RecordError saying why a row could not become a record.
        """
        prepared = Prepared(columns=Columns(self.inputs) if self.takes_fields else None)
        checked: list[tuple[int, dict[str, Any]]] = []
        for index, record in enumerate(records):
            if isinstance(record, RecordError):
                prepared.fail(index, record)
                continue
            try:
                checked.append((index, validate(record, self.fields)))
            except RecordError as exc:
                prepared.fail(index, exc)
        vectors = self._run_batch([record for _, record in checked])
        for (index, record), vector in zip(checked, vectors, strict=True):
            try:
                packed: Any = (
                    self._run(record)
                    if vector is None
                    else self._packed(vector, self.batch_entry or self.entry)
                )
            except (RecordError, PreprocessError) as exc:
                prepared.fail(index, exc)
                continue
            if prepared.columns is not None:
                prepared.columns.append(packed)
            else:
                prepared.features.extend(packed)
            prepared.rows.append(index)
            prepared.records.append(record)
        return prepared

    def _run_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        """The batch entry point's vectors, or Nones (per-record fallback) when it fails."""
        if self._batch is None or not records:
            return [None] * len(records)
        try:
            vectors = list(self._batch(records))
        except (ValueError, TypeError, KeyError, IndexError):
            return [None] * len(records)  # find the culprits one by one
        if len(vectors) != len(records):
            raise PreprocessError(
                f"batch preprocessing ({self.batch_entry}) returned {len(vectors)} vectors for "
                f"{len(records)} records"
            )
        return vectors

    def _run(self, checked: dict[str, Any]) -> Any:
        if self._function is None:
            try:
                return row_of(checked, self.inputs)
            except ValueError as exc:
                raise PreprocessError(str(exc)) from exc
        try:
            vector = self._function(checked)
        except RecordError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise PreprocessError(
                f"preprocessing ({self.entry}) rejected the record: {exc}"
            ) from exc
        return self._packed(vector, self.entry)

    def _packed(self, vector: Any, entry: str) -> array:
        """`vector` as float32, checked; `entry` is the entry point that returned it."""
        try:
            packed = array("f", vector)
        except TypeError as exc:
            raise PreprocessError(
                f"preprocessing ({entry}) must return a sequence of numbers, got {type(vector).__name__}"
            ) from exc
        if len(packed) != self.n_features:
            raise FeatureCountError(entry, len(packed), self.n_features)
        if not all(math.isfinite(v) for v in packed):
            raise PreprocessError(f"preprocessing ({entry}) returned a NaN or infinite feature")
        return packed


def load_entry(entry: str) -> Callable[..., Any]:
    module_name, _, function_name = entry.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)
