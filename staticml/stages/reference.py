"""Stage: reference predictions on the app's samples, computed in CPython.

The samples go through the preprocessing *as packed in the wheels the browser gets* and the
ONNX model through CPython onnxruntime; the browser must reproduce these results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime

from staticml.config import AppConfig
from staticml.cpython import preprocessing_failure, reference_session, shipped_predictor
from staticml.errors import BuildError
from staticml.records import load_samples
from staticml.runtime.engine import Predictor
from staticml.runtime.prediction import Prediction
from staticml.runtime.schema import RecordError
from staticml.stages.model import ModelArtifact
from staticml.stages.wheels import Wheels


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
    with shipped_predictor(config, n_features, wheels.all()) as predictor:
        return [_features(config, predictor, f"{what} {name!r}", record) for name, record in named]


def predict_one(
    session: onnxruntime.InferenceSession, model: ModelArtifact, vector: Any
) -> Prediction:
    spec = model.spec()
    batch = np.asarray(vector, dtype=np.float32).reshape(1, model.n_features)
    [prediction] = spec.predictions(*spec.split(session.run(spec.fetches(), {spec.input: batch})))
    return prediction


def _features(config: AppConfig, predictor: Predictor, what: str, record: dict[str, Any]) -> Any:
    try:
        return predictor.features(record)
    except RecordError as exc:
        raise BuildError(f"{what} is not a valid record: {exc}") from exc
    except Exception as exc:
        failure = preprocessing_failure(exc, config, what)
        if failure is None:
            raise
        raise failure from exc
