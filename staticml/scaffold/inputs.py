"""The fields of a new app, inferred from its model file (`staticml new --model`).

A scikit-learn estimator saved with joblib or pickle names its inputs when it was fitted on a
table (`feature_names_in_`); an ONNX file, or an estimator fitted on a bare array, does not,
and its inputs are `x0`, `x1`, ... The ranges come from `staticml.scaffold.bounds`, the
classes from `classes_` (or the ONNX classifier's `classlabels_*` attribute).

`ESTIMATOR_INFERENCE` is the list of functions tried, in order, on an estimator; the first
that returns a `ModelInputs` wins. Models whose inputs are not one number each (a
`ColumnTransformer` with string columns) plug in there.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import ConfigError
from staticml.estimator_file import load_estimator
from staticml.scaffold.bounds import (
    Bounds,
    chain,
    estimator_bounds,
    identity,
    onnx_affine,
    threshold_bounds,
)

ESTIMATOR_SUFFIXES = (".joblib", ".pkl", ".pickle")
NO_BOUNDS = "the model does not say which values are valid"


@dataclass(frozen=True)
class DraftField:
    """One `[[input]]` table of the new app's staticml.toml."""

    name: str  # a valid field name, the record's key
    label: str  # what the model calls it
    type: str = "number"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    center: float | None = None  # a typical value, where the model knows one
    spread: float | None = None
    required: bool = True  # False where the model fills a missing value in itself

    def sample_values(self, rows: int) -> list[Any]:
        """Values the field validates with, one per sample row: spread over the range, else
        around a typical value, else small numbers."""
        if self.choices:
            return [self.choices[i % len(self.choices)] for i in range(rows)]
        steps = [(i + 1) / (rows + 1) for i in range(rows)]
        if self.min is not None and self.max is not None:
            return [_shown(self.min + q * (self.max - self.min)) for q in steps]
        if self.min is not None or self.max is not None:
            return [_shown(self.min if self.min is not None else self.max)] * rows  # type: ignore[arg-type]
        if self.center is not None:
            spread = self.spread or 1.0
            return [_shown(self.center + (2 * q - 1) * spread) for q in steps]
        return [_shown(2 * q - 1) for q in steps]


@dataclass(frozen=True)
class ModelInputs:
    """What a new app's staticml.toml says about the model's inputs and outputs."""

    fields: tuple[DraftField, ...]
    classes: tuple[str, ...]  # empty for a regressor, or when the model does not say
    names_source: str  # where the field names came from
    bounds_source: str  # where min/max came from, or why there are none
    takes_fields: bool = False  # a pipeline fed the record's fields: no preprocessing module


def model_inputs(path: Path) -> ModelInputs:
    """The inputs of the model in `path`, an ONNX file or a pickled estimator."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ConfigError(f"--model {path}: no such file.")
    if suffix == ".onnx":
        return onnx_inputs(path.read_bytes(), str(path))
    if suffix in ESTIMATOR_SUFFIXES:
        estimator = _load_estimator(path)
        for infer in ESTIMATOR_INFERENCE:
            found = infer(estimator)
            if found is not None:
                return found
        raise ConfigError(
            f"--model {path}: {type(estimator).__name__} is not a fitted scikit-learn "
            "estimator or pipeline (it has no n_features_in_). Save the fitted model."
        )
    raise ConfigError(
        f"--model {path}: expected an ONNX file (.onnx) or a scikit-learn estimator saved "
        f"with joblib or pickle ({', '.join(ESTIMATOR_SUFFIXES)}), not {suffix or 'no suffix'}."
    )


def plain_estimator_inputs(estimator: Any) -> ModelInputs | None:
    """One number field per feature of an estimator or pipeline taking a float matrix."""
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        return None
    names = getattr(estimator, "feature_names_in_", None)
    source = "feature_names_in_" if names is not None else "positions (x0, x1, ...)"
    labels = [str(n) for n in names] if names is not None else positional(n_features)
    bounds = estimator_bounds(estimator, int(n_features))
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    classes = getattr(final, "classes_", None)
    shown = tuple(str(c) for c in classes) if classes is not None else ()
    return ModelInputs(_fields(labels, bounds), shown, source, _bounds_source(bounds))


def pipeline_inputs(estimator: Any) -> ModelInputs | None:
    """One field per column of a pipeline starting with a `ColumnTransformer`: it takes the
    record's fields as they are, categories included (`staticml.pipeline_fields`)."""
    from staticml.pipeline_fields import column_transformer, fields_from_pipeline

    if column_transformer(estimator) is None:
        return None
    tables = fields_from_pipeline(estimator)
    names = field_names([t["name"] for t in tables])
    fields = tuple(
        DraftField(
            name,
            table["name"],
            type=table["type"],
            choices=tuple(table["choices"]) if "choices" in table else None,
            required=table.get("required", True),
        )
        for name, table in zip(names, tables, strict=True)
    )
    classes = getattr(estimator.steps[-1][1], "classes_", None)
    shown = tuple(str(c) for c in classes) if classes is not None else ()
    fitted = getattr(column_transformer(estimator), "feature_names_in_", None)
    source = "feature_names_in_" if fitted is not None else "positions (x0, x1, ...)"
    return ModelInputs(
        fields,
        shown,
        f"{source}; categories from the fitted encoders",
        "the pipeline does not say which numbers are valid",
        takes_fields=True,
    )


ESTIMATOR_INFERENCE: list[Callable[[Any], ModelInputs | None]] = [
    pipeline_inputs,
    plain_estimator_inputs,
]


def onnx_inputs(data: bytes, origin: str) -> ModelInputs:
    """One number field per feature of an ONNX model's float input `[batch, features]`."""
    import onnx

    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:
        raise ConfigError(f"--model {origin} is not an ONNX model: {exc}") from exc
    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConfigError(
            f"--model {origin} has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
            "staticml feeds one float tensor [batch, features]: export the model that way."
        )
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].HasField("dim_value"):
        raise ConfigError(
            f"--model {origin}: input {inputs[0].name!r} is not [batch, features] with a fixed "
            "number of features, so the fields cannot be counted. Export it with a fixed width."
        )
    n_features = int(dims[1].dim_value)
    bounds = _onnx_bounds(graph, inputs[0].name, n_features)
    return ModelInputs(
        _fields(positional(n_features), bounds),
        _onnx_classes(graph),
        "positions (x0, x1, ...): ONNX does not name the features",
        _bounds_source(bounds),
    )


def positional(n_features: int) -> list[str]:
    return [f"x{i}" for i in range(n_features)]


def field_names(labels: Sequence[str]) -> list[str]:
    """Valid, distinct field names for the model's feature names (`sepal length (cm)` →
    `sepal_length_cm`)."""
    names: list[str] = []
    for label in labels:
        name = re.sub(r"\W+", "_", label, flags=re.ASCII).strip("_").lower() or "x"
        if name[0].isdigit() or keyword.iskeyword(name):
            name = f"x_{name}"
        candidate, number = name, 2
        while candidate in names:
            candidate, number = f"{name}_{number}", number + 1
        names.append(candidate)
    return names


def _fields(labels: Sequence[str], bounds: Bounds) -> tuple[DraftField, ...]:
    fields = []
    for index, (name, label) in enumerate(zip(field_names(labels), labels, strict=True)):
        found = bounds.ranges[index]
        fields.append(
            DraftField(
                name,
                label,
                min=outward(found[0], down=True) if found else None,
                max=outward(found[1], down=False) if found else None,
                center=bounds.center[index] if bounds.center else None,
                spread=bounds.spread[index] if bounds.spread else None,
            )
        )
    return tuple(fields)


def _bounds_source(bounds: Bounds) -> str:
    return bounds.source if any(bounds.ranges) else f"{NO_BOUNDS} ({bounds.source})"


_TREES = {"TreeEnsembleClassifier", "TreeEnsembleRegressor"}
_CLASSIFIERS = {"LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier"}


def _onnx_bounds(graph: Any, input_name: str, n_features: int) -> Bounds:
    """Tree thresholds, through the `Scaler` nodes between the input and the trees."""
    from onnx import helper

    consumers = {name: node for node in graph.node for name in node.input[:1]}
    affine, current = identity(n_features), input_name
    while current in consumers:
        node = consumers[current]
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Scaler":
            step = onnx_affine(
                n_features, attributes.get("offset", []), attributes.get("scale", [])
            )
            affine, current = chain(affine, step), node.output[0]
        elif node.op_type in _TREES:
            import numpy as np

            modes = [m.decode() for m in attributes.get("nodes_modes", [])]
            split = np.array([m != "LEAF" for m in modes], dtype=bool)
            features = np.asarray(attributes.get("nodes_featureids", []))[split]
            values = np.asarray(attributes.get("nodes_values", []), dtype=float)[split]
            return threshold_bounds(features, values, affine, n_features)
        else:
            break
    return Bounds((None,) * n_features, "no tree ensemble reads the raw input")


def _onnx_classes(graph: Any) -> tuple[str, ...]:
    from onnx import helper

    for node in graph.node:
        if node.op_type not in _CLASSIFIERS:
            continue
        for attribute in node.attribute:
            if attribute.name in ("classlabels_strings", "classlabels_int64s"):
                values = helper.get_attribute_value(attribute)
                return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)
    return ()


def _load_estimator(path: Path) -> Any:
    """Like any pickle, this runs code from the file: `staticml new` is meant for your own."""
    try:
        return load_estimator(path, ConfigError, "--model")
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"--model {path} could not be loaded ({type(exc).__name__}: {exc}); save the "
            "fitted estimator with joblib.dump or pickle.dump."
        ) from exc


def outward(value: float, *, down: bool) -> float:
    """`value` with the fewest digits (6 or more) that does not move it inwards."""
    for digits in range(6, 18):
        short = float(f"{value:.{digits}g}")
        if (short <= value) if down else (short >= value):
            return short
    return value


def _shown(value: float) -> float | int:
    rounded = float(f"{value:.6g}")
    return int(rounded) if rounded.is_integer() else rounded
