"""Stage: the drift-monitoring baseline, from the app's reference records (docs/summaries.md).

The reference records (usually the training data) go through the preprocessing as packed in
the shipped wheels and through the model in CPython, exactly as a visitor's inputs will. Each
number or integer field becomes a numeric feature and each category field a categorical one;
image apps are summarised by the model's input features (`f0`, `f1`, …), never by pixels.
The model's predictions on the references give the output's bins. A classifier's baseline
also carries the calibration the compression stage measured on the evaluation data: the bins
of top-class probability summaries count over, from which the collector estimates accuracy.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from staticml.app_code import call, isolated_imports
from staticml.baseline import (
    Baseline,
    BaselineError,
    Confidence,
    baseline_to_json,
    compute_baseline,
)
from staticml.config import AppConfig
from staticml.cpython import model_feed, preprocessing_failure, reference_session, shipped_predictor
from staticml.errors import BuildError
from staticml.record_errors import bad_row, bad_rows, feature_count
from staticml.records import Named, checked_records, named_records_from_file
from staticml.runtime.engine import FeatureCountError
from staticml.stages.model import ModelArtifact
from staticml.stages.wheels import Wheels

MONITORED_TYPES = {"number", "integer", "category"}


@dataclass(frozen=True)
class MonitorArtifact:
    baseline: Baseline
    sources: dict[str, list[Any]]

    def baseline_json(self) -> bytes:
        return (json.dumps(baseline_to_json(self.baseline), indent=1) + "\n").encode("utf-8")

    def runtime_spec(self, config: AppConfig, release: str) -> dict[str, Any]:
        """What `staticml.runtime.monitor.Monitor` needs in the page's worker."""
        document = baseline_to_json(self.baseline)
        features = [
            {**{k: v for k, v in f.items() if k != "counts"}, "source": self.sources[f["name"]]}
            for f in document["features"]
        ]
        output = {k: v for k, v in document["output"].items() if k != "counts"}
        confidence = self.baseline.confidence
        return {
            "release": release,
            "k": config.monitor.min_predictions,
            "epsilon": config.monitor.epsilon,
            "features": features,
            "output": output,
            "confidence": None
            if confidence is None
            else {"kind": "numeric", "edges": list(confidence.edges)},
        }


def monitoring_baseline(
    config: AppConfig,
    model: ModelArtifact,
    wheels: Wheels,
    confidence: Confidence | None = None,
) -> MonitorArtifact | None:
    if not config.monitor.has_reference:
        return None
    named = _reference_records(config)
    records = [item.record for item in named]
    with shipped_predictor(config, model.spec(), wheels.all()) as predictor:
        try:
            prepared = predictor.features_for(records)
        except Exception as exc:
            failure = preprocessing_failure(exc, config, "the monitoring baseline's records")
            if failure is None:
                raise
            raise failure from exc
    failures = sorted(prepared.failures.items())
    for index, error in failures:
        if isinstance(error, FeatureCountError):
            raise feature_count(config, error, named[index].where)
    if failures:
        bad = [bad_row(config, named[i].where, error) for i, error in failures]
        file = config.monitor.reference_file
        source = f"monitor.reference_file {file}" if file is not None else _origin(config)
        raise bad_rows(f"{source} (the monitoring baseline)", bad, len(records))
    features = np.frombuffer(prepared.features, dtype=np.float32).reshape(-1, model.n_features)
    columns, sources = _columns(config, prepared.records, features)
    outputs = _outputs(model, model_feed(model.spec(), prepared))
    try:
        baseline = compute_baseline(
            columns,
            ("prediction", outputs),
            output_kind="categorical" if model.kind == "classification" else "numeric",
            bins=config.monitor.bins,
            source=f"{len(records)} reference records ({_origin(config)})",
        )
    except BaselineError as exc:
        raise BuildError(f"the monitoring baseline cannot be computed: {exc}") from exc
    return MonitorArtifact(dataclasses.replace(baseline, confidence=confidence), sources)


def _reference_records(config: AppConfig) -> list[Named]:
    settings = config.monitor
    if settings.reference is not None:
        with isolated_imports(config.app_dir):
            raw = call(settings.reference, "monitor.reference", config.app_dir)
        if isinstance(raw, list) and all(isinstance(r, dict) and "record" not in r for r in raw):
            raw = [{"name": f"record {i + 1}", "record": r} for i, r in enumerate(raw)]
        named = checked_records(raw, f"monitor.reference = '{settings.reference}'")
    else:
        assert settings.reference_file is not None
        named = checked_records(
            named_records_from_file(settings.reference_file, "monitor.reference_file"),
            f"monitor.reference_file {settings.reference_file}",
        )
    if len(named) < 2 * settings.bins:
        raise BuildError(
            f"the monitoring baseline needs at least {2 * settings.bins} reference records for "
            f"{settings.bins} bins, got {len(named)}; give more (the training data is best)."
        )
    return named


def _columns(
    config: AppConfig, records: list[dict[str, Any]], features: np.ndarray
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    columns: dict[str, list[Any]] = {}
    sources: dict[str, list[Any]] = {}
    for field in config.input:
        if field.type in MONITORED_TYPES:
            columns[field.name] = [record[field.name] for record in records]
            sources[field.name] = ["field", field.name]
    if any(field.type == "image" for field in config.input):
        for i in range(features.shape[1]):
            columns[f"f{i}"] = [float(v) for v in features[:, i]]
            sources[f"f{i}"] = ["feature", i]
    return columns, sources


def _outputs(model: ModelArtifact, feed: dict[str, np.ndarray]) -> list[Any]:
    """Each row's shown label (a classifier) or value (a regressor)."""
    spec = model.spec()
    fetched = reference_session(model.onnx).run(spec.fetches(), feed)
    labels, values = spec.split(fetched)
    return [float(v) for v in values] if labels is None else spec.labels(labels)


def _origin(config: AppConfig) -> str:
    if config.monitor.reference is not None:
        return f"monitor.reference = '{config.monitor.reference}'"
    assert config.monitor.reference_file is not None
    return f"monitor.reference_file {config.monitor.reference_file.name}"
