"""Stage: reference predictions on the app's samples, computed in CPython.

The samples go through the preprocessing *as packed in the wheels the browser gets* and the
ONNX model through CPython onnxruntime; the browser must reproduce these results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import onnxruntime

from staticml.config import AppConfig
from staticml.cpython import preprocessing_failure, reference_session, row_feed, shipped_predictor
from staticml.record_errors import BadRow, bad_row, bad_rows, feature_count
from staticml.records import Named, load_samples, samples_origin
from staticml.runtime.engine import FeatureCountError
from staticml.runtime.prediction import OutputSpec, Prediction
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
    features = feature_vectors(config, model.spec(), wheels, named, samples_origin(config))
    session = reference_session(model.onnx)
    return SampleSet(
        tuple(
            Sample(sample.name, sample.record, predict_one(session, model, vector))
            for sample, vector in zip(named, features, strict=True)
        )
    )


def feature_vectors(
    config: AppConfig,
    spec: OutputSpec,
    wheels: Wheels,
    named: Sequence[Named],
    source: str,
) -> list[Any]:
    """Each record's feature vector, from the preprocessing as packed in the shipped wheels.

    `spec` is the model's: a model taking the fields gets each record's row of inputs. Every
    bad record of `source` (the setting they come from) is reported in one BuildError;
    a crash in the preprocessing names its setting and shows the app's frames.
    """
    vectors: list[Any] = []
    bad: list[BadRow] = []
    with shipped_predictor(config, spec, wheels.all()) as predictor:
        for item in named:
            try:
                vectors.append(predictor.features(item.record))
            except FeatureCountError as exc:
                raise feature_count(config, exc, item.where) from exc
            except ValueError as exc:  # RecordError, PreprocessError
                bad.append(bad_row(config, item.where, exc))
            except Exception as exc:
                failure = preprocessing_failure(exc, config, item.where)
                if failure is None:
                    raise
                raise failure from exc
    if bad:
        raise bad_rows(source, bad, len(named))
    return vectors


def predict_one(
    session: onnxruntime.InferenceSession, model: ModelArtifact, vector: Any
) -> Prediction:
    spec = model.spec()
    [prediction] = spec.predictions(
        *spec.split(session.run(spec.fetches(), row_feed(spec, vector)))
    )
    return prediction
