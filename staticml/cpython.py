"""A bundle's code and model run in CPython: its wheels imported, its model in onnxruntime.

The build's reference predictions, monitoring baseline and variant measurement, batch
scoring and retrain evaluation all run the shipped files through these, as the page does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import onnxruntime

from staticml.app_code import isolated_imports
from staticml.packaging import Wheel


def reference_session(onnx: bytes) -> onnxruntime.InferenceSession:
    """A CPU session on one thread, so reference results never depend on thread scheduling."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


@contextmanager
def wheels_on_path(wheels: Sequence[Wheel]) -> Iterator[None]:
    """Import the shipped packages from the wheel files themselves (zipimport), then forget them."""
    with tempfile.TemporaryDirectory(prefix="staticml-wheels-") as folder:
        paths = []
        for wheel in wheels:
            if wheel.top_level == ("staticml",):
                continue  # this process already runs staticml's own copy of the runtime
            path = Path(folder) / wheel.filename
            path.write_bytes(wheel.data)
            paths.append(path)
        with isolated_imports(*paths):
            yield
