"""What a fitted model says about the range of each raw input, where it says anything.

Only some steps know it. `MinMaxScaler` kept the training data's range (`data_min_`,
`data_max_`). A tree's split thresholds bound the values that change its output: beyond the
lowest and highest threshold of a feature the model predicts the same. Scalers before either
(`StandardScaler`, `MaxAbsScaler`, `MinMaxScaler`, ONNX `Scaler`) are elementwise affine maps,
so the range is mapped back to the raw input through them. Anything else (a `StandardScaler`
followed by a linear model, say) bounds nothing: its mean and scale describe the data, not a
range of valid values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DATA_RANGE = "the training data's range, kept by MinMaxScaler (data_min_, data_max_)"
THRESHOLDS = (
    "the range of the trees' split thresholds: the model predicts the same for any value "
    "beyond them; widen it to the values real records take"
)


@dataclass(frozen=True)
class Bounds:
    """Per feature `(min, max)`, or None where unknown; `source` says where they came from,
    or why there are none; `center`/`spread` describe typical values where a scaler knew them."""

    ranges: tuple[tuple[float, float] | None, ...]
    source: str
    center: tuple[float, ...] | None = None
    spread: tuple[float, ...] | None = None


@dataclass
class _Affine:
    """`scale * raw + offset`, per feature: where the current step's input comes from."""

    scale: np.ndarray
    offset: np.ndarray

    def then(self, scale: np.ndarray, offset: np.ndarray) -> None:
        self.scale, self.offset = self.scale * scale, self.offset * scale + offset

    def raw(self, values: np.ndarray) -> np.ndarray:
        return (values - self.offset) / self.scale


def estimator_bounds(estimator: Any, n_features: int) -> Bounds:
    """The raw inputs' ranges a scikit-learn estimator or pipeline knows."""
    steps = [s for _, s in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    affine = _Affine(np.ones(n_features), np.zeros(n_features))
    center: tuple[float, ...] | None = None
    spread: tuple[float, ...] | None = None
    for step in steps:
        name = type(step).__name__
        if name == "MinMaxScaler":
            low, high = affine.raw(step.data_min_), affine.raw(step.data_max_)
            return Bounds(_pairs(low, high), DATA_RANGE)
        trees = list(_trees(step))
        if trees:
            return _tree_bounds(trees, affine, n_features, center, spread)
        if name == "StandardScaler":
            mean = step.mean_ if step.mean_ is not None else np.zeros(n_features)
            scale = step.scale_ if step.scale_ is not None else np.ones(n_features)
            if center is None:
                center = tuple(float(v) for v in affine.raw(mean))
                spread = tuple(float(v) for v in scale / affine.scale)
            affine.then(1 / scale, -mean / scale)
        elif name == "MaxAbsScaler":
            affine.then(1 / step.scale_, np.zeros(n_features))
        else:
            why = f"{name} does not bound its inputs"
            return Bounds((None,) * n_features, why, center, spread)
    return Bounds((None,) * n_features, "no step of the model bounds its inputs", center, spread)


def _trees(step: Any) -> Iterable[Any]:
    """The fitted `sklearn.tree` structures of a tree or a tree ensemble."""
    if hasattr(step, "tree_"):
        yield step.tree_
        return
    members = getattr(step, "estimators_", None)
    if members is None:
        return
    for member in np.asarray(members, dtype=object).ravel():
        if not hasattr(member, "tree_"):
            return
        yield member.tree_


def _tree_bounds(
    trees: Sequence[Any],
    affine: _Affine,
    n_features: int,
    center: tuple[float, ...] | None,
    spread: tuple[float, ...] | None,
) -> Bounds:
    features, thresholds = [], []
    for tree in trees:
        split = tree.children_left >= 0
        features.append(tree.feature[split])
        thresholds.append(tree.threshold[split])
    return threshold_bounds(
        np.concatenate(features), np.concatenate(thresholds), affine, n_features, center, spread
    )


def threshold_bounds(
    features: np.ndarray,
    thresholds: np.ndarray,
    affine: _Affine | None,
    n_features: int,
    center: tuple[float, ...] | None = None,
    spread: tuple[float, ...] | None = None,
) -> Bounds:
    """Per feature the lowest and highest threshold it is split at, mapped back to the raw
    input; None for a feature no split uses."""
    affine = affine or _Affine(np.ones(n_features), np.zeros(n_features))
    ranges: list[tuple[float, float] | None] = []
    for index in range(n_features):
        used = thresholds[features == index]
        if used.size == 0:
            ranges.append(None)
            continue
        low = (float(used.min()) - affine.offset[index]) / affine.scale[index]
        high = (float(used.max()) - affine.offset[index]) / affine.scale[index]
        ranges.append((min(low, high), max(low, high)))
    return Bounds(tuple(ranges), THRESHOLDS, center, spread)


def onnx_affine(n_features: int, offset: Sequence[float], scale: Sequence[float]) -> _Affine:
    """ONNX `Scaler`: `(x - offset) * scale`, an attribute of one value applying to all."""
    offsets = np.broadcast_to(np.asarray(offset or [0.0], dtype=float), (n_features,))
    scales = np.broadcast_to(np.asarray(scale or [1.0], dtype=float), (n_features,))
    return _Affine(scales.copy(), -offsets * scales)


def chain(first: _Affine, second: _Affine) -> _Affine:
    first.then(second.scale, second.offset)
    return first


def identity(n_features: int) -> _Affine:
    return _Affine(np.ones(n_features), np.zeros(n_features))


def _pairs(low: np.ndarray, high: np.ndarray) -> tuple[tuple[float, float] | None, ...]:
    return tuple((float(min(a, b)), float(max(a, b))) for a, b in zip(low, high, strict=True))
