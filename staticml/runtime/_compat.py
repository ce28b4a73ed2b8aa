"""The only place that knows whether we run in Pyodide or CPython (after micropip's _compat)."""

from __future__ import annotations

import sys
from array import array
from typing import Any

IN_PYODIDE = sys.platform == "emscripten"

if IN_PYODIDE:
    import js  # type: ignore[import-not-found]
    from pyodide.ffi import jsnull  # type: ignore[import-not-found]
    from pyodide.ffi import to_js as _to_js  # type: ignore[import-not-found]

    def to_py(value: Any) -> Any:
        """A JS value (JsProxy) as Python objects: typed arrays become memoryviews, and
        JavaScript's null becomes None (Pyodide gives `jsnull`)."""
        return _nulls_to_none(value.to_py() if hasattr(value, "to_py") else value)

    def _nulls_to_none(value: Any) -> Any:
        if value is jsnull:
            return None
        if isinstance(value, dict):
            return {key: _nulls_to_none(item) for key, item in value.items()}
        if isinstance(value, list):
            return [_nulls_to_none(item) for item in value]
        return value

    def float32_array(values: array) -> Any:
        """A JS Float32Array filled from a Python array('f') in one copy."""
        out = js.Float32Array.new(len(values))
        out.assign(values)
        return out

    def to_js(value: Any) -> Any:
        return _to_js(value, dict_converter=js.Object.fromEntries)

else:

    def to_py(value: Any) -> Any:
        return value

    def float32_array(values: array) -> Any:
        return values

    def to_js(value: Any) -> Any:
        return value
