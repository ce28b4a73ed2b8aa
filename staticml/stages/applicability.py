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
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

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


def applicability(data: bytes) -> Applicability:
    proto = onnx.load_from_string(data)
    none = f"the model has no weight matrices ({_kind(proto)})"
    return Applicability(
        fp16=_fp16(proto),
        int8=_opset(proto) if weight_matrices(proto, QUANTISED_INPUTS) else none,
        pruning=None if weight_matrices(proto) else none,
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
        return "the model does not import the default operator set (ai.onnx), which onnxruntime's quantisers need"
    if len(versions) > 1:
        listed = ", ".join(str(v) for v in versions)
        return (
            f"the model imports the default operator set (ai.onnx) with conflicting versions "
            f"({listed}); onnxruntime's quantisers need one"
        )
    return None


def _fp16(proto: onnx.ModelProto) -> str | None:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST

    kept = set(DEFAULT_OP_BLOCK_LIST)
    if any(node.op_type not in kept for node in proto.graph.node):
        return None
    ops = ", ".join(dict.fromkeys(node.op_type for node in proto.graph.node))
    return (
        f"onnxruntime's float16 converter keeps every operator of the model ({ops}) in float32; "
        "it would only add casts"
    )


def _kind(proto: onnx.ModelProto) -> str:
    ops = list(dict.fromkeys(node.op_type for node in proto.graph.node))
    for prefix, kind in _KINDS:
        if any(op.startswith(prefix) for op in ops):
            return kind
    return f"its operators are {', '.join(ops)}"
