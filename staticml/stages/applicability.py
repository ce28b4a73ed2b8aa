"""Which compressions apply to a model, decided from its ONNX graph before any is tried.

A compression that has nothing to work on is "not applicable", with the reason in words; it is
neither made nor measured, and the report does not count it as a failure. What applies is made
and measured, and may still be rejected by the accuracy gate.

- Pruning works on weight matrices: float initializers fed to MatMul, Gemm or Conv; int8
  quantisation on those and on the other weights onnxruntime's quantisers quantise (embedding
  tables of Gather, recurrent weights, ConvTranspose). A tree ensemble, or a linear model
  written with ai.onnx.ml's LinearClassifier, holds its parameters as operator attributes and
  has none.
- onnxruntime's quantisers need the default operator set (ai.onnx) imported once. skl2onnx
  writes it twice with the same version for some estimators; that is merged before quantising
  (`single_default_opset`), and only conflicting versions make int8 not applicable.
- float16 applies when some operator is converted: onnxruntime's converter keeps its block list
  (the ai.onnx.ml operators among them) in float32 and would only add casts around them.
- Fewer trees (trees.py) applies to a tree ensemble whose graph, or the estimator it came
  from, tells whether it adds its trees (boosting) or averages them (a forest).

Each reason is what follows "not applicable" in the report: ", the model has ..." or, for a
tree ensemble, " to tree ensembles (...)".
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from staticml.stages.trees import ensemble_of

WEIGHT_INPUTS: dict[str, tuple[int, ...]] = {"MatMul": (1,), "Gemm": (1,), "Conv": (1,)}
QUANTISED_INPUTS = WEIGHT_INPUTS | {
    "ConvTranspose": (1,),
    "Gather": (0,),
    "LSTM": (1, 2),
    "GRU": (1, 2),
    "RNN": (1, 2),
}
_DEFAULT_DOMAINS = ("", "ai.onnx")
_KINDS = (
    ("TreeEnsemble", "a tree ensemble"),
    (
        "LinearClassifier",
        "a linear model whose coefficients are attributes of ai.onnx.ml's LinearClassifier",
    ),
    (
        "LinearRegressor",
        "a linear model whose coefficients are attributes of ai.onnx.ml's LinearRegressor",
    ),
    ("SVM", "a support vector machine"),
)


@dataclass(frozen=True)
class Applicability:
    """None where the compression applies, else why it does not."""

    fp16: str | None
    int8: str | None
    pruning: str | None
    trees: str | None = None
    tree_ensemble: bool = False  # only then are the fewer-trees variants listed at all


def applicability(data: bytes, trees: str | None = None) -> Applicability:
    """What applies to the model; `trees` is how its tree ensemble combines its trees, when
    the estimator it was converted from tells (converters.combination_of)."""
    proto = onnx.load_from_string(data)
    ensemble = ensemble_of(proto, trees)
    none = (
        " to tree ensembles (their parameters are split thresholds and leaf values, not "
        "weight matrices)"
        if ensemble is not None
        else f", the model has no weight matrices ({_kind(proto)})"
    )
    return Applicability(
        fp16=_fp16(proto, ensemble is not None),
        int8=_opset(proto) if weight_matrices(proto, QUANTISED_INPUTS) else none,
        pruning=None if weight_matrices(proto) else none,
        trees=_trees(proto, trees),
        tree_ensemble=ensemble is not None,
    )


def weight_matrices(
    proto: onnx.ModelProto, inputs: dict[str, tuple[int, ...]] = WEIGHT_INPUTS
) -> set[str]:
    """The names of the float initializers fed to `inputs` (operator → input positions),
    by default MatMul's, Gemm's and Conv's weights."""
    fed = {
        node.input[index]
        for node in proto.graph.node
        if node.domain in _DEFAULT_DOMAINS
        for index in inputs.get(node.op_type, ())
        if len(node.input) > index
    }
    return {
        tensor.name
        for tensor in proto.graph.initializer
        if tensor.name in fed and tensor.data_type == onnx.TensorProto.FLOAT
    }


def single_default_opset(proto: onnx.ModelProto) -> onnx.ModelProto:
    """`proto` with a repeated ai.onnx import of one version listed once (what the quantisers
    need); unchanged otherwise."""
    default = [entry for entry in proto.opset_import if entry.domain in _DEFAULT_DOMAINS]
    if len(default) < 2 or len({entry.version for entry in default}) != 1:
        return proto
    others = [entry for entry in proto.opset_import if entry.domain not in _DEFAULT_DOMAINS]
    merged = onnx.ModelProto.FromString(proto.SerializeToString())
    del merged.opset_import[:]
    merged.opset_import.extend([onnx.helper.make_opsetid("", default[0].version), *others])
    return merged


def _opset(proto: onnx.ModelProto) -> str | None:
    versions = sorted({e.version for e in proto.opset_import if e.domain in _DEFAULT_DOMAINS})
    if not versions:
        return ", the model does not import the default operator set (ai.onnx), which onnxruntime's quantisers need"
    if len(versions) > 1:
        listed = ", ".join(str(v) for v in versions)
        return (
            f", the model imports the default operator set (ai.onnx) with conflicting versions "
            f"({listed}); onnxruntime's quantisers need one"
        )
    return None


def _fp16(proto: onnx.ModelProto, tree_ensemble: bool) -> str | None:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST

    if tree_ensemble:  # its thresholds and leaf values are all the model holds
        return (
            " to tree ensembles (onnxruntime's float16 converter keeps the ai.onnx.ml tree "
            "operators in float32, and onnxruntime runs no float16 tree ensemble)"
        )
    kept = set(DEFAULT_OP_BLOCK_LIST)
    if any(node.op_type not in kept for node in proto.graph.node):
        return None
    ops = ", ".join(dict.fromkeys(node.op_type for node in proto.graph.node))
    return (
        f", onnxruntime's float16 converter keeps every operator of the model ({ops}) in "
        "float32; it would only add casts"
    )


def _trees(proto: onnx.ModelProto, hint: str | None) -> str | None:
    ensemble = ensemble_of(proto, hint)
    if ensemble is None:
        return f", the model has no tree ensemble ({_kind(proto)})"
    if ensemble.rounds < 2:
        return f", the model has a single tree{'' if ensemble.per_round == 1 else ' per class'}"
    if ensemble.combination is None:
        return (
            ", the graph does not tell whether its trees are added (boosting) or averaged "
            "(a forest); convert the estimator with staticml (model.file or model.train) "
            "instead of giving an ONNX file"
        )
    return None


def _kind(proto: onnx.ModelProto) -> str:
    ops = list(dict.fromkeys(node.op_type for node in proto.graph.node))
    for prefix, kind in _KINDS:
        if any(op.startswith(prefix) for op in ops):
            return kind
    return f"its operators are {', '.join(ops)}"
