"""Stage: what each variant does in CPython onnxruntime, and how its outputs compare.

Rows run one at a time, as the page predicts one record at a time; the same run gives the
latency. The rows are then scored again in batches (`CHUNKINGS`), as `staticml batch` and the
page's CSV scorer score them: a variant whose outputs for a row depend on the rows beside it
(dynamic quantisation picks its activation ranges per call) gives a record different answers
on the page and in a batch job, which the gate refuses.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from staticml.cpython import feed_rows, reference_session, take_rows
from staticml.runtime.prediction import class_text
from staticml.stages.model import ModelArtifact

# The shuffled chunkings' row order: fixed, so two builds measure the same batches.
SHUFFLE_SEED = 0
# Operators whose outputs for a row depend on the other rows of the call.
PER_BATCH_OPERATORS = {
    "DynamicQuantizeLinear": "activations quantised per batch",
    "DynamicQuantizeMatMul": "activations quantised per batch",
}


@dataclass(frozen=True)
class Chunking:
    """One way of scoring the evaluation rows in batches: one model run per chunk."""

    size: int | None  # rows per run; None: every row in one run
    shuffled: bool

    def describe(self) -> str:
        if self.size is None:
            return "all rows in one batch"
        return f"chunks of {self.size}" + (", shuffled" if self.shuffled else "")


CHUNKINGS = (Chunking(None, False), Chunking(7, True), Chunking(64, True))


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


@dataclass(frozen=True)
class Invariance:
    """How far a variant's outputs for a row move when the row is scored among others
    (measured as `parity`: probabilities absolutely, regression values relatively)."""

    max_deviation: float
    label_changes: int
    worst: str  # the chunking that moved them most


def output_names(model: ModelArtifact) -> list[str]:
    return model.spec().fetches()


Feed = dict[str, np.ndarray]


def as_feed(model: ModelArtifact, features: np.ndarray | Feed) -> Feed:
    """The model's inputs: `features`, a float matrix for its one input, or already a feed
    (one array per input, `staticml.cpython.model_feed`)."""
    return features if isinstance(features, dict) else {model.input_name: features}


def run_rows(
    data: bytes, model: ModelArtifact, features: np.ndarray | Feed
) -> tuple[Outputs, float]:
    """Every row's outputs, and the median milliseconds of one row's inference."""
    session = reference_session(data)
    names = output_names(model)
    feed = as_feed(model, features)
    results: list[list[Any]] = []
    times = []
    for index in range(feed_rows(feed)):
        row = take_rows(feed, slice(index, index + 1))
        started = time.perf_counter()
        results.append(session.run(names, row))
        times.append((time.perf_counter() - started) * 1000)
    columns = {name: [r[i] for r in results] for i, name in enumerate(names)}
    return outputs_from(model, columns), statistics.median(times)


def batches(rows: int, chunking: Chunking) -> list[np.ndarray]:
    """The row indexes of each model run of `chunking`, in run order."""
    if rows < 1:
        raise ValueError(f"cannot split {rows} rows into batches")
    order = (
        np.random.default_rng(SHUFFLE_SEED).permutation(rows)
        if chunking.shuffled
        else np.arange(rows)
    )
    size = chunking.size or rows
    return [order[start : start + size] for start in range(0, rows, size)]


def run_batches(
    data: bytes,
    model: ModelArtifact,
    features: np.ndarray | Feed,
    chunkings: Sequence[Chunking] = CHUNKINGS,
) -> dict[str, Outputs]:
    """Every row's outputs when the rows are scored in the batches of each chunking, by name."""
    session = reference_session(data)
    names = output_names(model)
    feed = as_feed(model, features)
    count = feed_rows(feed)
    scored = {}
    for chunking in chunkings:
        rows: list[list[Any]] = [[] for _ in range(count)]
        for indexes in batches(count, chunking):
            results = session.run(names, take_rows(feed, indexes))
            for values in results:
                for index, value in zip(indexes, per_row(values, len(indexes)), strict=True):
                    rows[index].append(value)
        columns = {name: [r[i] for r in rows] for i, name in enumerate(names)}
        scored[chunking.describe()] = outputs_from(model, columns)
    return scored


def per_row(values: Any, count: int) -> list[np.ndarray]:
    """One output of a run on `count` rows, split into each row's values."""
    return list(np.asarray(values).reshape(count, -1))


def invariance(single: Outputs, batched: Mapping[str, Outputs], kind: str) -> Invariance:
    """How far the batched outputs stray from the outputs of rows scored one at a time."""
    if not batched:
        raise ValueError("no batched outputs to compare")
    measured = {name: parity(outputs, single, kind) for name, outputs in batched.items()}
    worst = max(measured, key=lambda name: measured[name].max_deviation)
    changes = max(m.label_mismatches for m in measured.values())
    return Invariance(measured[worst].max_deviation, changes, worst)


def per_batch_causes(data: bytes) -> tuple[str, ...]:
    """What in the graph makes a row's outputs depend on its batch, as far as its operators say."""
    found = {node.op_type for node in onnx.load_from_string(data).graph.node}
    return tuple(sorted({PER_BATCH_OPERATORS[op] for op in found & PER_BATCH_OPERATORS.keys()}))


def outputs_from(model: ModelArtifact, columns: dict[str, list[Any]]) -> Outputs:
    """Outputs from per-row output values (each row's array or flat list), by output name."""
    spec = model.spec()
    fetched = [
        np.concatenate([np.asarray(v).reshape(-1) for v in columns[n]]) for n in spec.fetches()
    ]
    labels, values = spec.split(fetched)
    scores = np.asarray(values, dtype=np.float64)
    if labels is None:
        return Outputs(None, scores)
    return Outputs(tuple(class_text(v) for v in labels), scores.reshape(len(labels), spec.width))


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
