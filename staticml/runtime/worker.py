"""What the Web Worker's JavaScript calls: plain functions returning JS-friendly objects.

Errors in the record are returned as data, not raised, so the worker can pass the field
name back to the page without parsing Python tracebacks.
"""

from __future__ import annotations

import json
import time
from array import array
from collections.abc import Sequence
from typing import Any

from staticml.runtime._compat import float32_array, to_js, to_py
from staticml.runtime.columns import Columns
from staticml.runtime.contract import PredictSpec, ShownOutput
from staticml.runtime.engine import Predictor, PreprocessError
from staticml.runtime.monitor import Monitor, noisy_rollout
from staticml.runtime.restored import renew
from staticml.runtime.schema import RecordError, RecordErrors
from staticml.runtime.table import CsvScorer, TableError

_predictor: Predictor | None = None
_output: ShownOutput | None = None
_monitor: Monitor | None = None
_last: tuple[dict[str, Any], Sequence[Any]] | None = None


def start(spec: str) -> None:
    """Import the app's preprocessing once, at boot, so the first prediction is not slower.

    `spec` is the JSON text of the worker configuration's `python` part. The worker calls it
    right after Python starts, also from the build's memory snapshot: what that froze is
    renewed first (`restored.renew`).
    """
    global _predictor, _output, _monitor
    renew()
    python = PredictSpec.from_json(json.loads(spec))
    _predictor = Predictor(python)
    _output = python.output
    _monitor = Monitor(python.monitor) if python.monitor else None


def prepare(record: Any) -> Any:
    """`{features: Float32Array, ms}` for a valid record (a model taking the fields gets
    `{columns, ms}`, see `_columns`), else `{error: {field, message}}`; a record's error also
    lists every bad field in `problems` ({field, message} each)."""
    global _last
    began = time.perf_counter()
    predictor = _started()
    try:
        checked, vector = predictor.prepare(to_py(record))
    except RecordError as exc:
        return to_js({"error": {**_problem(exc), "kind": "record", "problems": _problems(exc)}})
    except PreprocessError as exc:
        return to_js({"error": {"field": "", "message": str(exc), "kind": "preprocess"}})
    _last = (checked, vector)
    elapsed = (time.perf_counter() - began) * 1000
    if isinstance(vector, array):
        return to_js({"features": float32_array(vector), "ms": elapsed})
    row = Columns(predictor.inputs)
    row.append(vector)
    return to_js({"columns": _columns(row), "ms": elapsed})


def _columns(columns: Columns) -> list[dict[str, Any]]:
    """Each model input's `{name, type, data}`: a Float32Array for a float input, an array of
    strings for a string one; the worker makes one tensor of each."""
    return [
        {
            "name": i.name,
            "type": i.type,
            "data": float32_array(data) if isinstance(data, array) else data,
        }
        for i, data in zip(columns.inputs, columns.data, strict=True)
    ]


def _problem(error: RecordError) -> dict[str, str]:
    return {"field": error.field, "message": str(error)}


def _problems(error: RecordError) -> list[dict[str, str]]:
    found = error.problems if isinstance(error, RecordErrors) else (error,)
    return [_problem(problem) for problem in found]


def predicted(labels: Any, values: Any) -> Any:
    """The prediction for the record `prepare` last prepared, from the model's outputs (the
    output tensors' data: `labels` null for a regressor): `{label, probabilities}` or
    `{value}`, with `monitor`, the monitor's state once it counted the prediction."""
    if _output is None:
        raise RuntimeError("staticml runtime started without the model's outputs")
    names = to_py(labels)
    [prediction] = _output.spec.predictions(None if names is None else list(names), to_py(values))
    shown = prediction.value if prediction.label is None else prediction.label
    probabilities = prediction.probabilities
    confidence = max(probabilities.values()) if probabilities else None
    return to_js({**prediction.to_json(), "monitor": observe(shown, confidence)})


def rehearsed(labels: Any, values: Any) -> None:
    """What `predicted` does with the model's outputs, for the worker's rehearsal at boot of a
    sample's prediction: the rehearsed record is not counted (the visitor did not send it)."""
    global _last
    _last = None
    if _output is None:
        raise RuntimeError("staticml runtime started without the model's outputs")
    names = to_py(labels)
    [prediction] = _output.spec.predictions(None if names is None else list(names), to_py(values))
    to_js(prediction.to_json())


def observe(output: Any, confidence: float | None = None) -> str | None:
    """Count the last prepared record with the model's output (and a classifier's top-class
    probability); the monitor's state as JSON."""
    global _last
    if _monitor is None or _last is None:
        return None
    record, vector = _last
    _last = None
    _monitor.observe(record, vector, to_py(output), confidence)
    return monitor_state()


def monitor_state() -> str | None:
    return None if _monitor is None else json.dumps(_monitor.state())


def monitor_restore(state: str) -> bool:
    """Take over counts and unsent summaries kept by the page from an earlier visit."""
    if _monitor is None:
        return False
    try:
        return _monitor.restore(json.loads(state))
    except ValueError:
        return False


def monitor_sent(ids: str) -> str | None:
    if _monitor is not None:
        _monitor.sent(json.loads(ids))
    return monitor_state()


def rollout_noise(summary: str, epsilon: float) -> str:
    """A rollout summary (JSON text) with local-DP noise on every count, as JSON text."""
    return json.dumps(noisy_rollout(json.loads(summary), float(epsilon)))


def monitor_stop() -> None:
    """The visitor opted out: stop counting altogether."""
    global _monitor
    _monitor = None


class CsvJob:
    """A CSV scoring job driven by the worker: feed text, run the model, complete, repeat."""

    def __init__(self) -> None:
        observer = _monitor.observe if _monitor is not None else None
        if _output is None:
            raise RuntimeError("staticml runtime started without the model's outputs")
        self._scorer = CsvScorer(_started(), _output, observer)

    def feed(self, text: str, final: bool) -> Any:
        """`{features: Float32Array, count}` for the rows ready (`{columns, count}` for a model
        taking the fields), or `{error}` for a bad file."""
        try:
            prepared = self._scorer.feed(str(text), bool(final))
        except TableError as exc:
            return to_js({"error": {"field": "", "message": str(exc), "kind": "file"}})
        count = len(prepared.rows)
        if prepared.columns is not None:
            return to_js({"columns": _columns(prepared.columns), "count": count})
        return to_js({"features": float32_array(prepared.features), "count": count})

    def complete(self, labels: Any, values: Any) -> Any:
        """The output CSV text for the rows last fed, running totals and the monitor's state."""
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
                "monitor": monitor_state(),
            }
        )


def csv_job() -> CsvJob:
    return CsvJob()


def _started() -> Predictor:
    if _predictor is None:
        raise RuntimeError("staticml runtime used before start()")
    return _predictor
