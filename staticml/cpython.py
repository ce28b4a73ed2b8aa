"""A bundle's code and model run in CPython: its wheels imported, its model in onnxruntime.

The build's reference predictions, monitoring baseline and variant measurement, batch
scoring and retrain evaluation all run the shipped files through these, as the page does.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from staticml.app_code import app_frames, describe, isolated_imports, named, shown_frames
from staticml.config import AppConfig, EntryPoint
from staticml.errors import BuildError
from staticml.packaging import Wheel
from staticml.runtime.columns import Columns
from staticml.runtime.engine import Predictor, Prepared, PreprocessError, load_entry
from staticml.runtime.prediction import OutputSpec


def reference_session(onnx: bytes) -> onnxruntime.InferenceSession:
    """A CPU session on one thread, so reference results never depend on thread scheduling."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def model_feed(spec: OutputSpec, prepared: Prepared) -> dict[str, np.ndarray]:
    """The model's inputs for the rows `prepared` holds, as the worker builds its tensors."""
    if prepared.columns is not None:
        return columns_feed(prepared.columns)
    features = np.frombuffer(prepared.features, dtype=np.float32)
    return {spec.input: features.reshape(-1, spec.n_features)}


def columns_feed(columns: Columns) -> dict[str, np.ndarray]:
    """One [rows, 1] array per input: float32, or text for a string input."""
    return {
        i.name: (
            np.frombuffer(data, dtype=np.float32)
            if isinstance(data, array)
            else np.asarray(data, dtype=object)
        ).reshape(-1, 1)
        for i, data in zip(columns.inputs, columns.data, strict=True)
    }


def row_feed(spec: OutputSpec, vector: Any) -> dict[str, np.ndarray]:
    """The model's inputs for one record's vector (`Predictor.features`)."""
    if not spec.inputs:
        return {spec.input: np.asarray(vector, dtype=np.float32).reshape(1, spec.n_features)}
    columns = Columns(spec.inputs)
    columns.append(list(vector))
    return columns_feed(columns)


def feed_rows(feed: dict[str, np.ndarray]) -> int:
    return int(next(iter(feed.values())).shape[0])


def take_rows(feed: dict[str, np.ndarray], indexes: Any) -> dict[str, np.ndarray]:
    """The rows `indexes` (a slice or an index array) of every input."""
    return {name: values[indexes] for name, values in feed.items()}


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


@contextmanager
def shipped_predictor(
    config: AppConfig, model: OutputSpec, wheels: Sequence[Wheel]
) -> Iterator[Predictor]:
    """The runtime's Predictor on the app's preprocessing imported from the wheels it ships.

    A function that cannot be imported is a BuildError naming its setting, with the app's
    frames (a module raising as it is imported, say).
    """
    with wheels_on_path(wheels):
        for setting, entry in _preprocessing(config):
            try:
                load_entry(str(entry))
            except Exception as exc:
                raise BuildError(
                    f"{named(setting, entry, config.app_dir)} cannot be imported from the app's wheel: "
                    f"{describe(exc, config.app_dir)}"
                ) from exc
        yield Predictor(config.runtime_spec(model))


def preprocessing_failure(exc: Exception, config: AppConfig, what: str) -> BuildError | None:
    """The BuildError for `exc`, raised by the app's preprocessing on `what` ("sample 'a'"),
    naming the setting whose function raised; None when no frame of the app's code raised it
    (it is then staticml's own, and keeps its traceback)."""
    if isinstance(exc, PreprocessError):
        cause = exc.__cause__ or exc
        return BuildError(
            f"{what} is not a valid record: {exc}{shown_frames(cause, config.app_dir)}"
        )
    frames = app_frames(exc, config.app_dir)
    if not frames:
        return None
    calls, functions = frames[0][1].name, _preprocessing(config)
    if not functions:
        return None
    setting, entry = next(((s, e) for s, e in functions if e.function == calls), functions[0])
    return BuildError(
        f"{what}: {named(setting, entry, config.app_dir)} raised {describe(exc, config.app_dir)}"
    )


def _preprocessing(config: AppConfig) -> list[tuple[str, EntryPoint]]:
    entry, batch = config.preprocess.entry, config.preprocess.batch
    return [
        (setting, point)
        for setting, point in (("preprocess.entry", entry), ("preprocess.batch", batch))
        if point is not None
    ]
