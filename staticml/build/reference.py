"""Stage: reference predictions on the app's samples, computed in CPython.

The samples go through the preprocessing *as packed in the wheel the browser gets* and the
ONNX model through CPython onnxruntime; the browser must reproduce these results.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from staticml.build.imports import call, isolated_imports
from staticml.build.model import ModelArtifact
from staticml.build.wheels import Wheel, Wheels
from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.runtime.engine import Predictor
from staticml.runtime.schema import RecordError


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Sample:
    name: str
    record: dict[str, Any]
    expected: Prediction


@dataclass(frozen=True)
class SampleSet:
    samples: tuple[Sample, ...]

    def to_json(self) -> bytes:
        items = [
            {
                "name": s.name,
                "record": s.record,
                "expected": {"label": s.expected.label, "probabilities": s.expected.probabilities},
            }
            for s in self.samples
        ]
        return json.dumps({"samples": items}, separators=(",", ":")).encode("utf-8")


def reference_predictions(config: AppConfig, model: ModelArtifact, wheels: Wheels) -> SampleSet:
    if config.samples is None:
        return SampleSet(())
    with isolated_imports(config.app_dir):
        raw = call(config.samples, "samples.source", config.app_dir)
    named = _checked_samples(raw, config)
    with _wheel_on_path(wheels.app):
        predictor = Predictor(config.runtime_spec())
        features = [_features(predictor, name, record) for name, record in named]
    session = onnxruntime.InferenceSession(model.onnx, providers=["CPUExecutionProvider"])
    return SampleSet(
        tuple(
            Sample(name, record, predict_one(session, model, vector))
            for (name, record), vector in zip(named, features, strict=True)
        )
    )


def predict_one(
    session: onnxruntime.InferenceSession, model: ModelArtifact, vector: Any
) -> Prediction:
    batch = np.asarray(vector, dtype=np.float32).reshape(1, model.n_features)
    label, probabilities = session.run(
        [model.label_output, model.probabilities_output], {model.input_name: batch}
    )
    return Prediction(
        label=str(label[0]),
        probabilities={c: float(p) for c, p in zip(model.classes, probabilities[0], strict=True)},
    )


def _checked_samples(raw: Any, config: AppConfig) -> list[tuple[str, dict[str, Any]]]:
    where = f"samples.source = '{config.samples}'"
    if not isinstance(raw, list | tuple):
        raise BuildError(
            f"{where} must return a list of {{'name': str, 'record': dict}}, got {type(raw).__name__}"
        )
    named = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
            raise BuildError(
                f"{where}: sample {index} must be {{'name': str, 'record': dict}}, got {item!r:.80}"
            )
        name = str(item.get("name") or f"sample {index + 1}")
        try:
            json.dumps(item["record"])
        except (TypeError, ValueError) as exc:
            raise BuildError(f"{where}: sample {name!r} is not JSON-serialisable: {exc}") from exc
        named.append((name, item["record"]))
    return named


def _features(predictor: Predictor, name: str, record: dict[str, Any]) -> Any:
    try:
        return predictor.features(record)
    except (RecordError, ValueError) as exc:
        raise BuildError(f"sample {name!r} is not a valid record: {exc}") from exc


@contextmanager
def _wheel_on_path(wheel: Wheel) -> Iterator[None]:
    """Import the app's package from the wheel file itself (zipimport), then forget it."""
    with tempfile.TemporaryDirectory(prefix="staticml-wheel-") as folder:
        path = Path(folder) / wheel.filename
        path.write_bytes(wheel.data)
        with isolated_imports(path):
            yield
