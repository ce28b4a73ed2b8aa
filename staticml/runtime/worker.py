"""What the Web Worker's JavaScript calls: plain functions returning JS-friendly objects.

Errors in the record are returned as data, not raised, so the worker can pass the field
name back to the page without parsing Python tracebacks.
"""

from __future__ import annotations

import time
from typing import Any

from staticml.runtime._compat import float32_array, to_js, to_py
from staticml.runtime.engine import Predictor, PreprocessError
from staticml.runtime.schema import RecordError

_predictor: Predictor | None = None


def start(spec: Any) -> None:
    """Import the app's preprocessing once, at boot, so the first prediction is not slower."""
    global _predictor
    _predictor = Predictor(to_py(spec))


def prepare(record: Any) -> Any:
    """`{features: Float32Array, ms}` for a valid record, else `{error: {field, message}}`."""
    if _predictor is None:
        raise RuntimeError("staticml runtime used before start()")
    began = time.perf_counter()
    try:
        vector = _predictor.features(to_py(record))
    except RecordError as exc:
        return to_js({"error": {"field": exc.field, "message": str(exc), "kind": "record"}})
    except PreprocessError as exc:
        return to_js({"error": {"field": "", "message": str(exc), "kind": "preprocess"}})
    elapsed = (time.perf_counter() - began) * 1000
    return to_js({"features": float32_array(vector), "ms": elapsed})
