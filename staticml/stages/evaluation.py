"""Stage: the held-out data every model variant is measured on, as feature vectors.

The app gives labelled records (`compress.eval` or `compress.eval_file`); without them the
shipped samples are used, unlabelled, and variants are judged by agreement with the original.
Records go through the preprocessing exactly as the samples do (the shipped wheels), so the
numbers describe what visitors get.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from staticml.config import AppConfig
from staticml.cpython import columns_feed, feed_rows
from staticml.errors import BuildError
from staticml.records import Named, evaluation_items, evaluation_origin, listed_by
from staticml.runtime.columns import Columns
from staticml.runtime.prediction import OutputSpec, class_text
from staticml.stages.model import ModelArtifact
from staticml.stages.reference import feature_vectors
from staticml.stages.wheels import Wheels


@dataclass(frozen=True)
class EvalSet:
    features: np.ndarray  # float32, [rows, n_features]; a model taking the fields: see `feed`
    labels: tuple[Any, ...] | None  # class values (str) or regression targets (float)
    source: str
    sha256: str
    calibration: np.ndarray
    calibration_source: str
    columns: dict[str, np.ndarray] | None = None  # a model taking the fields: its inputs

    @property
    def rows(self) -> int:
        return feed_rows(self.columns) if self.columns is not None else int(self.features.shape[0])

    @property
    def feed(self) -> np.ndarray | dict[str, np.ndarray]:
        """What `staticml.stages.measure` runs the model on."""
        return self.columns if self.columns is not None else self.features


def evaluation_set(config: AppConfig, model: ModelArtifact, wheels: Wheels) -> EvalSet:
    source, items = evaluation_items(config)
    if not items:
        raise BuildError(
            f"compression has no data to measure the model variants on ({source} gave none): "
            "set compress.eval or compress.eval_file (held-out records with labels), ship "
            "samples, or set compress.mode = 'off'."
        )
    named = [
        Named(str(item.get("name") or f"row {i + 1}"), item["record"], item["where"])
        for i, item in enumerate(items)
    ]
    spec = model.spec()
    vectors = feature_vectors(config, spec, wheels, named, evaluation_origin(config, source))
    labels = _labels(items, model, source)
    if spec.inputs:
        columns = _columns(spec, vectors)
        empty = np.zeros((len(vectors), 0), dtype=np.float32)
        digest = _digest(np.concatenate([_bytes(c) for c in columns.values()]), labels)
        return EvalSet(empty, labels, source, digest, empty, source, columns)
    features = _matrix(vectors)
    calibration, calibration_source = features, source
    if config.compress.calibration is not None:
        calibration_source = f"compress.calibration = '{config.compress.calibration}'"
        records = listed_by(config, config.compress.calibration, "compress.calibration")
        named = [
            Named(f"record {i + 1}", _record(r, calibration_source, i), f"item {i + 1}")
            for i, r in enumerate(records)
        ]
        calibration = _matrix(feature_vectors(config, spec, wheels, named, calibration_source))
    return EvalSet(
        features, labels, source, _digest(features, labels), calibration, calibration_source
    )


def _record(item: Any, where: str, index: int) -> dict[str, Any]:
    record = item.get("record") if isinstance(item, dict) and "record" in item else item
    if not isinstance(record, dict):
        raise BuildError(f"{where}: item {index} must be a record (a dict), got {item!r:.80}")
    return record


def _labels(
    items: list[dict[str, Any]], model: ModelArtifact, where: str
) -> tuple[Any, ...] | None:
    given = ["label" in item and item["label"] not in (None, "") for item in items]
    if not any(given):
        return None
    if not all(given):
        raise BuildError(
            f"{where}: {given.count(False)} of {len(items)} items have no label; label all of them or none."
        )
    if model.kind == "regression":
        return tuple(_target(item["label"], where, i) for i, item in enumerate(items))
    spec = model.spec()
    return tuple(_class_value(item["label"], spec, where, i) for i, item in enumerate(items))


def _target(value: Any, where: str, index: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{where}: item {index + 1} has label {value!r}, not a number.") from exc


def _class_value(value: Any, spec: OutputSpec, where: str, index: int) -> str:
    """A label as the model's class value; the displayed class names are accepted too."""
    class_value = spec.class_value(value)
    if class_value is None:
        raise BuildError(
            f"{where}: item {index + 1} has label {class_text(value)!r}, which is not one of the "
            f"model's classes ({', '.join(spec.class_values)})."
        )
    return class_value


def _columns(spec: OutputSpec, vectors: list[Any]) -> dict[str, np.ndarray]:
    columns = Columns(spec.inputs)
    for row in vectors:
        columns.append(list(row))
    return columns_feed(columns)


def _bytes(column: np.ndarray) -> np.ndarray:
    """A column's bytes, text columns as UTF-8 with a separator."""
    if column.dtype == object:
        text = "\x1f".join(str(v) for v in column.reshape(-1))
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return np.frombuffer(np.ascontiguousarray(column).tobytes(), dtype=np.uint8)


def _matrix(vectors: list[Any]) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)


def _digest(features: np.ndarray, labels: tuple[Any, ...] | None) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes())
    digest.update(json.dumps(list(labels) if labels is not None else None).encode("utf-8"))
    return digest.hexdigest()
