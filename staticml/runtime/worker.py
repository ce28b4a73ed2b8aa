"""What the Web Worker's JavaScript calls: plain functions returning JS-friendly objects.

Errors in the record are returned as data, not raised, so the worker can pass the field
name back to the page without parsing Python tracebacks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from staticml.runtime._compat import float32_array, to_js, to_py
from staticml.runtime.engine import Predictor, PreprocessError
from staticml.runtime.schema import RecordError
from staticml.runtime.table import CsvScorer, TableError

_predictor: Predictor | None = None
_output: Mapping[str, Any] = {}


def start(spec: str) -> None:
    """Import the app's preprocessing once, at boot, so the first prediction is not slower.

    `spec` is the JSON text of the worker configuration's `python` part.
    """
    global _predictor, _output
    python = json.loads(spec)
    _predictor = Predictor(python)
    _output = python.get("output", {})


def prepare(record: Any) -> Any:
    """`{features: Float32Array, ms}` for a valid record, else `{error: {field, message}}`."""
    began = time.perf_counter()
    try:
        vector = _started().features(to_py(record))
    except RecordError as exc:
        return to_js({"error": {"field": exc.field, "message": str(exc), "kind": "record"}})
    except PreprocessError as exc:
        return to_js({"error": {"field": "", "message": str(exc), "kind": "preprocess"}})
    elapsed = (time.perf_counter() - began) * 1000
    return to_js({"features": float32_array(vector), "ms": elapsed})


class CsvJob:
    """A CSV scoring job driven by the worker: feed text, run the model, complete, repeat."""

    def __init__(self) -> None:
        self._scorer = CsvScorer(_started(), _output)

    def feed(self, text: str, final: bool) -> Any:
        """`{features: Float32Array, count}` for the rows ready, or `{error}` for a bad file."""
        try:
            prepared = self._scorer.feed(str(text), bool(final))
        except TableError as exc:
            return to_js({"error": {"field": "", "message": str(exc), "kind": "file"}})
        return to_js({"features": float32_array(prepared.features), "count": len(prepared.rows)})

    def complete(self, labels: Any, values: Any) -> Any:
        """The output CSV text for the rows last fed, and running totals."""
        names = to_py(labels)  # JavaScript's null arrives as jsnull, not None, until converted
        text = self._scorer.complete(None if names is None else list(names), to_py(values))
        totals = self._scorer.totals
        return to_js(
            {
                "csv": text,
                "rows": totals.rows,
                "scored": totals.scored,
                "errorCount": totals.error_count,
                "errors": [list(e) for e in totals.errors],
            }
        )


def csv_job() -> CsvJob:
    return CsvJob()


def _started() -> Predictor:
    if _predictor is None:
        raise RuntimeError("staticml runtime used before start()")
    return _predictor
