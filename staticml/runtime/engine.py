"""Turn a record into the model's input: validate, run the app's preprocessing, pack floats."""

from __future__ import annotations

import importlib
import math
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from staticml.runtime.schema import RecordError, validate


class PreprocessError(ValueError):
    """The app's preprocessing rejected a valid record or returned an unusable vector."""


class Predictor:
    """The in-browser half of prediction; the worker's JS runs the model on its output.

    `spec` is the `python` part of the worker configuration the build writes: the input
    fields, the preprocessing entry point (`module:function`) and the feature count.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.fields = list(spec["fields"])
        self.n_features = int(spec["n_features"])
        self.entry = str(spec["entry"])
        self._function = load_entry(self.entry)

    def features(self, record: Any) -> array:
        """The float32 feature vector for one record, or RecordError/PreprocessError."""
        checked = validate(record, self.fields)
        try:
            vector = self._function(checked)
        except RecordError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise PreprocessError(
                f"preprocessing ({self.entry}) rejected the record: {exc}"
            ) from exc
        return self._packed(vector)

    def _packed(self, vector: Any) -> array:
        try:
            packed = array("f", vector)
        except TypeError as exc:
            raise PreprocessError(
                f"preprocessing ({self.entry}) must return a sequence of numbers, got {type(vector).__name__}"
            ) from exc
        if len(packed) != self.n_features:
            raise PreprocessError(
                f"preprocessing ({self.entry}) returned {len(packed)} features; the model expects {self.n_features}"
            )
        if not all(math.isfinite(v) for v in packed):
            raise PreprocessError(
                f"preprocessing ({self.entry}) returned a NaN or infinite feature"
            )
        return packed


def load_entry(entry: str) -> Callable[[Mapping[str, Any]], Any]:
    module_name, _, function_name = entry.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)
