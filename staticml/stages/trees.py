"""Compression that applies to tree ensembles: fewer trees.

A tree ensemble (ai.onnx.ml's TreeEnsembleClassifier/Regressor) keeps its parameters, split
thresholds and leaf values, as operator attributes: it has no weight matrices to prune or
quantise. What does shrink it is keeping only its first trees, `trees-NN` keeping NN% of them:

- a boosted ensemble (gradient boosting, XGBoost, LightGBM, CatBoost) adds up its trees' outputs,
  each boosting round correcting the rounds before it. Its first k rounds are the model that
  stopping the boosting after k rounds gives; a multi-class booster grows one tree per class
  each round, and a round is kept or dropped whole.
- an averaged ensemble (random forest, extra trees) averages its trees. Its first k trees, with
  their leaf values scaled by n/k, are the average of those k trees: a smaller forest.

Which of the two a graph is can be read from it when its trees feed a post-transform
(a logistic or softmax: boosting) or base values, or when it is a classifier without either
(skl2onnx's forests); for a regressor without either (LightGBM's and a forest's look alike),
the estimator it was converted from tells (`converters.combination_of`), and an ONNX file cannot. The
accuracy gate then judges each variant like any other.

float16 thresholds and leaf values are not made: ai.onnx.ml's TreeEnsemble (operator set 5)
declares float16 tensors, but onnxruntime refuses to load one (measured with onnxruntime 1.32:
"Attribute 'nodes_splits' must have same type as input").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from staticml.converters import AVERAGED, SUMMED
from staticml.stages.model import canonical_bytes

_OPERATORS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
_ML = "ai.onnx.ml"


@dataclass(frozen=True)
class Ensemble:
    """The tree ensemble of a graph, as far as `fewer_trees` needs it."""

    operator: str
    trees: tuple[int, ...]  # tree ids, in order
    per_round: int  # trees per boosting round (one per class for a multi-class booster)
    combination: str | None  # SUMMED, AVERAGED, or None when the graph does not tell

    @property
    def rounds(self) -> int:
        return len(self.trees) // self.per_round

    def kept_rounds(self, share: float) -> int:
        return max(1, round(share * self.rounds))


def ensemble_of(proto: onnx.ModelProto, hint: str | None = None) -> Ensemble | None:
    """The graph's one tree ensemble, or None when it has none (or several)."""
    nodes = [n for n in proto.graph.node if n.domain == _ML and n.op_type in _OPERATORS]
    if len(nodes) != 1:
        return None
    node = nodes[0]
    values = _attributes(node)
    trees = tuple(dict.fromkeys(int(t) for t in values.get("nodes_treeids", [])))
    prefix = "class" if node.op_type == "TreeEnsembleClassifier" else "target"
    per_round = _per_round(
        trees, values.get(f"{prefix}_treeids", []), values.get(f"{prefix}_ids", [])
    )
    return Ensemble(node.op_type, trees, per_round, hint or _combination(node.op_type, values))


def fewer_trees(data: bytes, share: float, hint: str | None = None) -> bytes:
    """The model with the first `share` of its rounds (whole rounds, at least one) kept."""
    proto = onnx.load_from_string(data)
    ensemble = ensemble_of(proto, hint)
    if ensemble is None or ensemble.combination is None:
        raise ValueError("the model has no tree ensemble whose trees can be dropped")
    kept = set(ensemble.trees[: ensemble.kept_rounds(share) * ensemble.per_round])
    node = next(n for n in proto.graph.node if n.domain == _ML and n.op_type in _OPERATORS)
    values = _attributes(node)
    prefix = "class" if ensemble.operator == "TreeEnsembleClassifier" else "target"
    by_node = _keep([int(t) in kept for t in values["nodes_treeids"]])
    by_leaf = _keep([int(t) in kept for t in values[f"{prefix}_treeids"]])
    scale = len(ensemble.trees) / len(kept) if ensemble.combination == AVERAGED else 1.0
    replaced = []
    for attribute in node.attribute:
        name = attribute.name
        if name.startswith("nodes_"):
            replaced.append(_filtered(attribute, by_node))
        elif name.startswith(f"{prefix}_"):
            scaled = scale if name.startswith(f"{prefix}_weights") else 1.0
            replaced.append(_filtered(attribute, by_leaf, scaled))
        else:
            replaced.append(attribute)
    del node.attribute[:]
    node.attribute.extend(replaced)
    return canonical_bytes(proto)


def _combination(operator: str, values: dict[str, Any]) -> str | None:
    transform = values.get("post_transform", b"NONE")
    transform = transform.decode() if isinstance(transform, bytes) else str(transform)
    base = values.get("base_values")
    if base is None and "base_values_as_tensor" in values:
        base = numpy_helper.to_array(values["base_values_as_tensor"]).tolist()
    if transform != "NONE" or (base is not None and any(float(b) != 0.0 for b in base)):
        return SUMMED
    if operator == "TreeEnsembleClassifier" or values.get("aggregate_function") in (
        b"AVERAGE",
        "AVERAGE",
    ):
        return AVERAGED
    return None


def _per_round(trees: tuple[int, ...], leaf_trees: Iterable[int], leaf_ids: Iterable[int]) -> int:
    """K when tree t writes only to output t mod K (a K-class booster), else 1."""
    outputs: dict[int, set[int]] = {}
    for tree, output in zip(leaf_trees, leaf_ids, strict=True):
        outputs.setdefault(int(tree), set()).add(int(output))
    written = {o for found in outputs.values() for o in found}
    width = len(written)
    if width < 2 or len(trees) % width:
        return 1
    if all(outputs.get(tree) == {position % width} for position, tree in enumerate(trees)):
        return width
    return 1


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {
        a.name: a.t if a.type == onnx.AttributeProto.TENSOR else helper.get_attribute_value(a)
        for a in node.attribute
    }


def _keep(flags: list[bool]) -> np.ndarray:
    return np.asarray(flags, dtype=bool)


def _filtered(
    attribute: onnx.AttributeProto, keep: np.ndarray, scale: float = 1.0
) -> onnx.AttributeProto:
    if attribute.type == onnx.AttributeProto.TENSOR:
        array = numpy_helper.to_array(attribute.t)[keep]
        array = (array * scale).astype(array.dtype) if scale != 1.0 else array
        return helper.make_attribute(attribute.name, numpy_helper.from_array(array))
    values = helper.get_attribute_value(attribute)
    kept = [v for v, flag in zip(values, keep, strict=True) if flag]
    if scale != 1.0:
        kept = [float(np.float32(v * scale)) for v in kept]
    return helper.make_attribute(attribute.name, kept)
