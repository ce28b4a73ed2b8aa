"""Stage: reference predictions on the app's samples, computed in CPython.

The samples go through the preprocessing *as packed in the wheels the browser gets* and the
ONNX model through CPython onnxruntime; the browser must reproduce these results.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.runtime.engine import Predictor
from staticml.runtime.prediction import Prediction
from staticml.runtime.schema import RecordError
from staticml.stages.imports import call, isolated_imports
from staticml.stages.model import ModelArtifact
from staticml.stages.wheels import Wheel, Wheels


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
            {"name": s.name, "record": s.record, "expected": s.expected.to_json()}
            for s in self.samples
        ]
        return json.dumps({"samples": items}, separators=(",", ":")).encode("utf-8")


def reference_predictions(config: AppConfig, model: ModelArtifact, wheels: Wheels) -> SampleSet:
    named = load_samples(config)
    if not named:
        return SampleSet(())
    features = feature_vectors(config, model.n_features, wheels, named, "sample")
    session = reference_session(model.onnx)
    return SampleSet(
        tuple(
            Sample(name, record, predict_one(session, model, vector))
            for (name, record), vector in zip(named, features, strict=True)
        )
    )


def feature_vectors(
    config: AppConfig,
    n_features: int,
    wheels: Wheels,
    named: Sequence[tuple[str, dict[str, Any]]],
    what: str,
) -> list[Any]:
    """Each record's feature vector, from the preprocessing as packed in the shipped wheels."""
    with wheels_on_path(wheels.all()):
        predictor = Predictor(config.runtime_spec(n_features))
        return [_features(predictor, f"{what} {name!r}", record) for name, record in named]


def reference_session(onnx: bytes) -> onnxruntime.InferenceSession:
    """A CPU session on one thread, so reference results never depend on thread scheduling."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def load_samples(config: AppConfig) -> list[tuple[str, dict[str, Any]]]:
    """(name, record) pairs from `samples.source` or `samples.file`; none if neither is set."""
    if config.samples.source is not None:
        with isolated_imports(config.app_dir):
            raw = call(config.samples.source, "samples.source", config.app_dir)
        return _checked_samples(raw, f"samples.source = '{config.samples.source}'")
    if config.samples.file is not None:
        return _samples_from_file(config.samples.file)
    return []


def predict_one(
    session: onnxruntime.InferenceSession, model: ModelArtifact, vector: Any
) -> Prediction:
    spec = model.spec()
    batch = np.asarray(vector, dtype=np.float32).reshape(1, model.n_features)
    [prediction] = spec.predictions(*spec.split(session.run(spec.fetches(), {spec.input: batch})))
    return prediction


def _samples_from_file(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return _checked_samples(
        named_records_from_file(path, "samples.file", "sample"), f"samples.file {path.name}"
    )


def named_records_from_file(path: Path, setting: str, noun: str = "record") -> list[dict[str, Any]]:
    """`{"name", "record"}` items from a CSV (a record per row) or a JSON file (a list of
    records, or of `{"name", "record"}`)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [
            {"name": f"row {i + 1}", "record": {k: v for k, v in row.items() if k is not None}}
            for i, row in enumerate(rows)
        ]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BuildError(f"{setting} {path.name} is not valid JSON: {exc}") from exc
    if isinstance(raw, list) and all(isinstance(r, dict) and "record" not in r for r in raw):
        return [{"name": f"{noun} {i + 1}", "record": r} for i, r in enumerate(raw)]
    return raw


def checked_records(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    return _checked_samples(raw, where)


def _checked_samples(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(raw, list | tuple):
        raise BuildError(
            f"{where} must give a list of {{'name': str, 'record': dict}}, got {type(raw).__name__}"
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


def _features(predictor: Predictor, what: str, record: dict[str, Any]) -> Any:
    try:
        return predictor.features(record)
    except (RecordError, ValueError) as exc:
        raise BuildError(f"{what} is not a valid record: {exc}") from exc


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
