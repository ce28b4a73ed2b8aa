"""Baselines (docs/summaries.md): the bins a release's summaries count over, with training counts.

`compute_baseline` runs at build time on the training data (or a reference sample);
`load_baseline` reads and checks one at the collector. Both use `bin_index`, the one
definition of which bin a value falls in, so a Python summariser can reuse it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import StaticMLError
from staticml.runtime.monitor import bin_of

FORMAT = 1
KINDS = ("numeric", "categorical")
MAX_EDGES = 31
DEFAULT_BINS = 10
DEFAULT_CATEGORIES = 20
# Top-class probability bins: [0, 0.1), [0.1, 0.2), ..., [0.9, 1], the ten of the usual ECE.
CONFIDENCE_EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class BaselineError(StaticMLError):
    """A baseline cannot be computed from the data given, or a baseline file is malformed."""


@dataclass(frozen=True)
class Variable:
    """One feature (or the output): its bins and the training counts over them.

    Numeric: `edges` e1 < … < ek make k+1 bins. Categorical: one bin per category plus "other".
    """

    name: str
    kind: str
    counts: tuple[int, ...]
    missing: int
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def bins(self) -> int:
        return len(self.counts)


@dataclass(frozen=True)
class Confidence:
    """A classifier's top-class probability on the evaluation data, over `CONFIDENCE_EDGES`.

    Per bin: the evaluation rows in it, their mean top-class probability (None for an empty
    bin) and, when the evaluation data has labels, the share of them predicted right. `ece`
    is the expected calibration error over these bins (None without labels).
    """

    rows: tuple[int, ...]
    mean: tuple[float | None, ...]
    accuracy: tuple[float | None, ...] | None
    ece: float | None
    source: str
    edges: tuple[float, ...] = CONFIDENCE_EDGES

    @property
    def bins(self) -> int:
        return len(self.edges) + 1


@dataclass(frozen=True)
class Baseline:
    rows: int
    source: str
    features: tuple[Variable, ...]
    output: Variable
    confidence: Confidence | None = None  # classifiers built since summaries carry it

    def feature(self, name: str) -> Variable | None:
        return next((f for f in self.features if f.name == name), None)


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def bin_index(variable: Variable, value: object) -> int | None:
    """The bin `value` counts in, or None when it is missing.

    The rule itself lives in the browser runtime (`staticml.runtime.monitor.bin_of`), so the
    build, the page's summaries and the collector bin values in exactly the same way.
    """
    return bin_of(
        {"kind": variable.kind, "edges": variable.edges, "categories": variable.categories}, value
    )


# --- computing (build time) -----------------------------------------------------------------


def compute_baseline(
    columns: Mapping[str, Sequence[object]],
    output: tuple[str, Sequence[object]],
    *,
    output_kind: str = "categorical",
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_CATEGORIES,
    source: str = "training data",
) -> Baseline:
    """A baseline from columns of values (one list per feature, all the same length).

    A column is numeric when every present value is a number (not a bool), else categorical.
    Numeric edges are the column's `bins`-quantiles with repeats merged; categorical features
    keep their `max_categories` most frequent values (ties by name) and count the rest as other.
    """
    if not 2 <= bins <= MAX_EDGES + 1:
        raise BaselineError(f"bins={bins} is out of range: use 2 to {MAX_EDGES + 1} bins.")
    output_name, output_values = output
    rows = len(output_values)
    features = []
    for name, values in columns.items():
        if len(values) != rows:
            raise BaselineError(
                f"Feature {name!r} has {len(values)} values but the output has {rows}: "
                "give every column one value per row."
            )
        kind = "numeric" if _all_numbers(values) else "categorical"
        features.append(_variable(name, kind, values, bins, max_categories))
    if output_kind not in KINDS:
        raise BaselineError(f"output_kind={output_kind!r} is not one of {', '.join(KINDS)}.")
    result = _variable(output_name, output_kind, output_values, bins, max_categories)
    return Baseline(rows, source, tuple(features), result)


def _all_numbers(values: Sequence[object]) -> bool:
    present = [v for v in values if not is_missing(v)]
    return bool(present) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    )


def _variable(
    name: str, kind: str, values: Sequence[object], bins: int, max_categories: int
) -> Variable:
    present = [v for v in values if not is_missing(v)]
    if not present:
        raise BaselineError(
            f"Feature {name!r} has no present value: every row is missing, so no bins can be "
            "fixed. Drop the feature or provide data for it."
        )
    if kind == "numeric":
        shape = Variable(name, kind, (), 0, edges=quantile_edges(present, bins))  # type: ignore[arg-type]
    else:
        shape = Variable(name, kind, (), 0, categories=_top_categories(present, max_categories))
    counts = [0] * (len(shape.edges) + 1 if kind == "numeric" else len(shape.categories) + 1)
    for value in present:
        counts[bin_index(shape, value)] += 1  # type: ignore[index]
    return Variable(
        name, kind, tuple(counts), len(values) - len(present), shape.edges, shape.categories
    )


def quantile_edges(values: Sequence[float], bins: int) -> tuple[float, ...]:
    """Edges at the `bins`-quantiles (lower values), repeated quantiles merged; at least one."""
    ordered = sorted(float(v) for v in values)
    edges: list[float] = []
    for i in range(1, bins):
        edge = ordered[min(len(ordered) - 1, (i * len(ordered)) // bins)]
        if not edges or edge > edges[-1]:
            edges.append(edge)
    if edges and edges[0] == ordered[0] and len(edges) > 1:
        edges.pop(0)  # an edge at the minimum leaves the first bin empty
    return tuple(edges) if edges else (ordered[0],)


def _top_categories(values: Sequence[object], limit: int) -> tuple[str, ...]:
    frequency = Counter(str(v) for v in values)
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    return tuple(label for label, _ in ranked[:limit])


# --- the JSON file --------------------------------------------------------------------------


def baseline_to_json(baseline: Baseline) -> dict[str, Any]:
    document = {
        "format": FORMAT,
        "rows": baseline.rows,
        "source": baseline.source,
        "features": [_variable_to_json(f) for f in baseline.features],
        "output": _variable_to_json(baseline.output),
    }
    if baseline.confidence is not None:
        document["confidence"] = confidence_to_json(baseline.confidence)
    return document


def confidence_to_json(confidence: Confidence) -> dict[str, Any]:
    return {
        "edges": list(confidence.edges),
        "rows": list(confidence.rows),
        "mean": list(confidence.mean),
        "accuracy": None if confidence.accuracy is None else list(confidence.accuracy),
        "ece": confidence.ece,
        "source": confidence.source,
    }


def _variable_to_json(variable: Variable) -> dict[str, Any]:
    shape: dict[str, Any] = (
        {"edges": list(variable.edges)}
        if variable.kind == "numeric"
        else {"categories": list(variable.categories)}
    )
    return {
        "name": variable.name,
        "kind": variable.kind,
        **shape,
        "counts": list(variable.counts),
        "missing": variable.missing,
    }


def write_baseline(baseline: Baseline, path: Path) -> None:
    path.write_text(json.dumps(baseline_to_json(baseline), indent=1) + "\n", encoding="utf-8")


def load_baseline(path: Path) -> Baseline:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"Cannot read the baseline {path}: {exc}. Rebuild the bundle.") from exc
    return baseline_from_json(data, str(path))


def baseline_from_json(data: object, where: str = "baseline") -> Baseline:
    """Check a baseline against docs/summaries.md; errors name the file and the key."""
    obj = _object(data, where)
    if obj.get("format") != FORMAT:
        raise BaselineError(
            f"{where}: format is {obj.get('format')!r}, this staticml reads format {FORMAT}; "
            "rebuild the bundle with this version of staticml."
        )
    rows, source = obj.get("rows"), obj.get("source", "")
    if not _count(rows) or not isinstance(source, str):
        raise BaselineError(f"{where}: rows must be a count and source a string.")
    raw_features = obj.get("features")
    if not isinstance(raw_features, list):
        raise BaselineError(f"{where}: features must be a list of features.")
    features = tuple(
        _variable_from_json(f, f"{where}: features[{i}]") for i, f in enumerate(raw_features)
    )
    names = [f.name for f in features]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BaselineError(f"{where}: feature names repeat: {', '.join(duplicates)}.")
    output = _variable_from_json(obj.get("output"), f"{where}: output")
    confidence = obj.get("confidence")
    return Baseline(
        rows,  # type: ignore[arg-type]
        source,
        features,
        output,
        None if confidence is None else _confidence_from_json(confidence, f"{where}: confidence"),
    )


def _confidence_from_json(data: object, where: str) -> Confidence:
    obj = _object(data, where)
    edges, rows, source = obj.get("edges"), obj.get("rows"), obj.get("source", "")
    if not _valid_edges(edges) or any(not 0 < e < 1 for e in edges):  # type: ignore[union-attr]
        raise BaselineError(f"{where}.edges must be increasing probabilities between 0 and 1.")
    bins = len(edges) + 1  # type: ignore[arg-type]
    if not isinstance(rows, list) or len(rows) != bins or not all(_count(r) for r in rows):
        raise BaselineError(f"{where}.rows must be {bins} non-negative integers, one per bin.")
    mean = _probabilities(obj.get("mean"), bins, f"{where}.mean")
    accuracy = obj.get("accuracy")
    ece = obj.get("ece")
    if ece is not None and not (isinstance(ece, int | float) and 0 <= ece <= 1):
        raise BaselineError(f"{where}.ece must be null or a number from 0 to 1.")
    if not isinstance(source, str):
        raise BaselineError(f"{where}.source must be a string.")
    return Confidence(
        tuple(rows),
        mean,
        None if accuracy is None else _probabilities(accuracy, bins, f"{where}.accuracy"),
        None if ece is None else float(ece),
        source,
        tuple(float(e) for e in edges),  # type: ignore[union-attr]
    )


def _probabilities(value: object, bins: int, where: str) -> tuple[float | None, ...]:
    if not isinstance(value, list) or len(value) != bins:
        raise BaselineError(f"{where} must hold {bins} entries, one per bin.")
    for entry in value:
        if entry is not None and not (
            isinstance(entry, int | float) and not isinstance(entry, bool) and 0 <= entry <= 1
        ):
            raise BaselineError(f"{where} holds {entry!r}; expected null or a number from 0 to 1.")
    return tuple(None if v is None else float(v) for v in value)


def _variable_from_json(data: object, where: str) -> Variable:
    obj = _object(data, where)
    name, kind = obj.get("name"), obj.get("kind")
    if not isinstance(name, str) or not name:
        raise BaselineError(f"{where}.name must be a non-empty string.")
    if kind not in KINDS:
        raise BaselineError(f"{where}.kind is {kind!r}; expected one of {', '.join(KINDS)}.")
    counts, missing = obj.get("counts"), obj.get("missing")
    if not isinstance(counts, list) or not all(_count(c) for c in counts) or not _count(missing):
        raise BaselineError(f"{where}: counts and missing must be non-negative integers.")
    if kind == "numeric":
        edges = obj.get("edges")
        if not _valid_edges(edges):
            raise BaselineError(
                f"{where}.edges must hold 1 to {MAX_EDGES} finite, increasing numbers."
            )
        shape = Variable(name, kind, (), 0, edges=tuple(float(e) for e in edges))  # type: ignore[union-attr]
        expected = len(shape.edges) + 1
    else:
        categories = obj.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise BaselineError(f"{where}.categories must be a list of strings.")
        shape = Variable(name, kind, (), 0, categories=tuple(categories))
        expected = len(categories) + 1
    if len(counts) != expected:
        raise BaselineError(f"{where}.counts has {len(counts)} entries; its bins need {expected}.")
    return Variable(name, kind, tuple(counts), missing, shape.edges, shape.categories)  # type: ignore[arg-type]


def _object(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BaselineError(f"{where} must be a JSON object.")
    return data


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_edges(edges: object) -> bool:
    if not isinstance(edges, list) or not 1 <= len(edges) <= MAX_EDGES:
        return False
    if not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges):
        return False
    values = [float(e) for e in edges]
    return all(math.isfinite(v) for v in values) and all(
        a < b for a, b in itertools.pairwise(values)
    )
