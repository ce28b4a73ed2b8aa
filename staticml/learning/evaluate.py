"""Score a built bundle on labelled records in CPython, exactly as its page would predict.

The records go through the bundle's own preprocessing wheel and the model file it ships (via
`staticml.scoring`), so a release is judged on what its visitors run, compression included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from staticml.cpython import model_feed
from staticml.errors import BuildError
from staticml.learning.data import Labelled
from staticml.runtime.prediction import OutputSpec, class_text
from staticml.scoring.bundle import Bundle, load_bundle
from staticml.scoring.scorer import open_scorer, prepare


@dataclass(frozen=True)
class Score:
    """A release's metric on one data set: accuracy in percent, or mean absolute error."""

    metric: str  # "accuracy" or "mae"
    value: float
    rows: int
    predictions: tuple[Any, ...]  # class values or predicted targets, one per row

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": round(self.value, 6), "rows": self.rows}


def score_bundle(directory: Path, data: Labelled, where: str) -> Score:
    bundle = load_bundle(directory)
    predictions = predict(bundle, data.records, where)
    spec = bundle.spec
    if spec.classifies:
        truth = [_class_value(spec, label, where, i) for i, label in enumerate(data.labels)]
        right = sum(p == t for p, t in zip(predictions, truth, strict=True))
        return Score("accuracy", 100.0 * right / len(truth), len(truth), tuple(predictions))
    targets = np.asarray([_number(label, where, i) for i, label in enumerate(data.labels)])
    error = float(np.abs(np.asarray(predictions, dtype=float) - targets).mean())
    return Score("mae", error, len(targets), tuple(predictions))


def predict(bundle: Bundle, records: Sequence[dict[str, Any]], where: str) -> list[Any]:
    """The class value (as text) or target the bundle predicts for each record."""
    with open_scorer(bundle) as scorer:
        prepared = prepare(scorer.predictor, list(records), where)
        if prepared.errors:
            rows = sorted(prepared.errors)
            shown = "; ".join(f"row {r + 1}: {prepared.errors[r]}" for r in rows[:5])
            raise BuildError(
                f"{where}: {len(rows)} records do not fit release {bundle.release}'s input "
                f"schema ({shown}); fix or remove them."
            )
        spec = scorer.spec
        labels, values = spec.split(scorer.session.run(spec.fetches(), model_feed(spec, prepared)))
        if labels is not None:
            return [class_text(v) for v in labels]
        return [float(v) for v in values]


def agreement(left: Score, right: Score) -> float:
    """Share of rows on which two releases predict the same class (classifiers only)."""
    same = sum(a == b for a, b in zip(left.predictions, right.predictions, strict=True))
    return same / max(1, len(left.predictions))


def _class_value(spec: OutputSpec, label: Any, where: str, index: int) -> str:
    value = spec.class_value(label)
    if value is None:
        raise BuildError(
            f"{where}: row {index + 1} has label {class_text(label)!r}, not one of the model's "
            f"classes ({', '.join(spec.class_values)})."
        )
    return value


def _number(value: Any, where: str, index: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{where}: row {index + 1} has label {value!r}, not a number.") from exc
