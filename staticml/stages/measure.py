"""Stage: what each variant does in CPython onnxruntime, and how its outputs compare.

Rows run one at a time, as the page predicts one record at a time (dynamic quantisation picks
its ranges per call, so a batch would give other numbers). The same run gives the latency.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from staticml.stages.model import ModelArtifact
from staticml.stages.reference import reference_session

# How far the browser may be from CPython: probabilities absolutely, regression values relatively.
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Outputs:
    """A variant's predictions for every evaluation row."""

    labels: tuple[str, ...] | None  # classifiers: class values
    scores: np.ndarray  # classifiers: probabilities [rows, classes]; regressors: values [rows]


@dataclass(frozen=True)
class Quality:
    metric: float | None  # accuracy (0-1) or mean absolute error; None without labels
    agreement: float | None  # classifiers: share of rows with the original's label
    max_deviation: float  # largest |probability| (or |value|) difference from the original
    mean_deviation: float


@dataclass(frozen=True)
class Parity:
    """How far the browser's outputs are from CPython's on the same variant."""

    max_deviation: float
    label_mismatches: int


def output_names(model: ModelArtifact) -> list[str]:
    if model.kind == "regression":
        assert model.value_output is not None
        return [model.value_output]
    assert model.label_output is not None and model.probabilities_output is not None
    return [model.label_output, model.probabilities_output]


def run_rows(data: bytes, model: ModelArtifact, features: np.ndarray) -> tuple[Outputs, float]:
    """Every row's outputs, and the median milliseconds of one row's inference."""
    session = reference_session(data)
    names = output_names(model)
    results: list[list[Any]] = []
    times = []
    for row in features:
        batch = row.reshape(1, -1)
        started = time.perf_counter()
        results.append(session.run(names, {model.input_name: batch}))
        times.append((time.perf_counter() - started) * 1000)
    columns = {name: [r[i] for r in results] for i, name in enumerate(names)}
    return outputs_from(model, columns), statistics.median(times)


def outputs_from(model: ModelArtifact, columns: dict[str, list[Any]]) -> Outputs:
    """Outputs from per-row output values (each row's array or flat list), by output name."""
    if model.kind == "regression":
        values = [
            np.asarray(v, dtype=np.float64).reshape(-1)[0]
            for v in columns[model.value_output or ""]
        ]
        return Outputs(None, np.asarray(values, dtype=np.float64))
    labels = tuple(_text(np.asarray(v).reshape(-1)[0]) for v in columns[model.label_output or ""])
    rows = [
        np.asarray(v, dtype=np.float64).reshape(-1)
        for v in columns[model.probabilities_output or ""]
    ]
    return Outputs(labels, np.vstack(rows))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def quality(
    outputs: Outputs, original: Outputs, labels: tuple[Any, ...] | None, kind: str
) -> Quality:
    deviation = np.abs(outputs.scores - original.scores)
    if kind == "regression":
        metric = (
            float(np.mean(np.abs(outputs.scores - np.asarray(labels, dtype=np.float64))))
            if labels is not None
            else None
        )
        return Quality(metric, None, float(deviation.max()), float(deviation.mean()))
    assert outputs.labels is not None and original.labels is not None
    agreement = _share_equal(outputs.labels, original.labels)
    metric = _share_equal(outputs.labels, labels) if labels is not None else None
    return Quality(metric, agreement, float(deviation.max()), float(deviation.mean()))


def parity(browser: Outputs, cpython: Outputs, kind: str) -> Parity:
    difference = np.abs(browser.scores - cpython.scores)
    if kind == "regression":
        difference = difference / np.maximum(1.0, np.abs(cpython.scores))
    mismatches = (
        sum(a != b for a, b in zip(browser.labels, cpython.labels, strict=True))
        if browser.labels is not None and cpython.labels is not None
        else 0
    )
    return Parity(float(difference.max()), mismatches)


def _share_equal(left: tuple[Any, ...], right: tuple[Any, ...]) -> float:
    return sum(a == b for a, b in zip(left, right, strict=True)) / len(left)
