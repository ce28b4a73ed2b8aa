"""Stage: the candidate encodings of the model, made with onnxruntime's and onnx's own tools.

- `fp32`: the model as given.
- `fp16`: float tensors stored and computed as float16 (onnxruntime's converter), with the
  model's inputs and outputs kept float32 so the page feeds and reads it unchanged.
- `int8-dynamic`: `onnxruntime.quantization.quantize_dynamic` (int8 weights, activations
  quantised per call).
- `int8-static`: `quantize_static` in QDQ format, per-channel int8 weights, activation ranges
  calibrated on the app's own records.

Both int8 variants use `reduce_range` (7-bit weights). Measured on the demo: with full 8-bit
weights x86's int8 kernels saturate where onnxruntime-web's wasm kernels do not, and the
browser's probabilities differed from CPython's by 0.11 (one label changed); with
`reduce_range` they agree to the last bit.
- `pruned-NN`: magnitude pruning; in every weight matrix the NN% smallest weights become zero.
  The file keeps its size but compresses much better, which is what a visitor downloads.
- `pruned-NN-int8`: the pruned model through `quantize_dynamic`: zeros stay zeros in int8, so
  the two savings multiply. Its activations are quantised per call, so a row's outputs depend
  on the rows run beside it; the gate measures that and rejects such a variant.
- `pruned-NN-int8-static`: the pruned model through `quantize_static` as `int8-static`: fixed
  activation scales, so a row gives the same outputs alone or in any batch.
- `trees-NN`: a tree ensemble with only its first NN% of boosting rounds (or of a forest's
  trees, reweighted); see trees.py.

A variant whose compression does not apply to the model (applicability.py: no weight matrices
to prune or quantise, no operator float16 converts, trees that cannot be dropped) is not tried
and is kept with that reason (the fewer-trees variants are listed only for tree ensembles);
one that applies but cannot be made is kept with the error. Either way the report says why it
is absent.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from staticml.settings.parsers import pruned_name, trees_name
from staticml.stages.applicability import (
    Applicability,
    applicability,
    single_default_opset,
    weight_matrices,
)
from staticml.stages.model import canonical_bytes
from staticml.stages.trees import fewer_trees


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    onnx: bytes | None
    error: str | None = None
    not_applicable: str | None = None  # why this compression does not apply to the model


def original(data: bytes) -> Variant:
    return Variant("fp32", "the model as given (float32)", data)


def make_variants(
    data: bytes,
    input_name: str,
    calibration: np.ndarray,
    prune: tuple[float, ...],
    trees: tuple[float, ...] = (),
    combination: str | None = None,
) -> tuple[Variant, ...]:
    """The original and every compressed candidate, in a fixed order; `combination` is how a
    tree ensemble combines its trees, when its estimator tells (ModelArtifact.trees)."""
    applies = applicability(data, combination)
    makers: list[tuple[str, str, str | None, Callable[[], bytes]]] = [
        (
            "fp16",
            "float16 weights and arithmetic; float32 input and outputs",
            _not_applicable("float16 conversion", applies.fp16),
            lambda: fp16(data),
        ),
        (
            "int8-dynamic",
            "int8 weights (7-bit range), activations quantised at run time (quantize_dynamic)",
            _not_applicable("int8 weight quantisation", applies.int8),
            lambda: int8_dynamic(data),
        ),
        (
            "int8-static",
            "int8 weights (7-bit range) and activations, QDQ, calibrated on the app's records "
            "(quantize_static)",
            _not_applicable("int8 weight quantisation", applies.int8),
            lambda: int8_static(data, input_name, calibration),
        ),
    ]
    for level in prune:
        makers.append(
            (
                pruned_name(level),
                f"float32 with the {level:.0%} smallest weights of each matrix set to zero",
                _not_applicable("weight pruning", applies.pruning),
                lambda level=level: pruned(data, level),  # type: ignore[misc]
            )
        )
    for level in prune:
        makers.append(
            (
                f"{pruned_name(level)}-int8",
                f"pruned-{round(level * 100):02d}, then int8 as int8-dynamic",
                _pruned_int8(applies),
                lambda level=level: int8_dynamic(pruned(data, level)),  # type: ignore[misc]
            )
        )
    for level in prune:
        makers.append(
            (
                f"{pruned_name(level)}-int8-static",
                f"pruned-{round(level * 100):02d}, then int8 as int8-static",
                _pruned_int8(applies),
                lambda level=level: int8_static(  # type: ignore[misc]
                    pruned(data, level), input_name, calibration
                ),
            )
        )
    for share in trees if applies.tree_ensemble else ():
        makers.append(
            (
                trees_name(share),
                f"the tree ensemble's first {share:.0%} of boosting rounds (or of a forest's trees)",
                _not_applicable("fewer trees", applies.trees),
                lambda share=share: fewer_trees(data, share, combination),  # type: ignore[misc]
            )
        )
    return (
        original(data),
        *(
            Variant(name, text, None, not_applicable=reason)
            if reason is not None
            else _attempt(name, text, make)
            for name, text, reason, make in makers
        ),
    )


def _not_applicable(compression: str, reason: str | None) -> str | None:
    return None if reason is None else f"{compression}: not applicable{reason}"


def _pruned_int8(applies: Applicability) -> str | None:
    if applies.pruning is not None:
        return _not_applicable("weight pruning", applies.pruning)
    return _not_applicable("int8 weight quantisation", applies.int8)


def _attempt(name: str, description: str, make: Callable[[], bytes]) -> Variant:
    try:
        return Variant(name, description, make())
    except Exception as exc:  # recorded in the report, never shipped
        return Variant(name, description, None, f"{type(exc).__name__}: {exc}")


def fp16(data: bytes) -> bytes:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load_from_string(data), keep_io_types=True)
    # The converter stores float16 values in int32_data, 4 bytes each in the worst case;
    # raw_data stores them in 2.
    for index, tensor in enumerate(proto.graph.initializer):
        proto.graph.initializer[index].CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name)
        )
    return _serialise(proto)


def int8_dynamic(data: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _files(data) as (source, target), _quiet_quantiser():
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, reduce_range=True)
        return _serialise(onnx.load(target))


def int8_static(data: bytes, input_name: str, calibration: np.ndarray) -> bytes:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Rows(CalibrationDataReader):
        def __init__(self) -> None:
            self._rows = iter(range(len(calibration)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self._rows, None)
            return None if row is None else {input_name: calibration[row : row + 1]}

    with _files(data) as (source, target), _quiet_quantiser():
        quantize_static(
            source,
            target,
            Rows(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        return _serialise(onnx.load(target))


def pruned(data: bytes, level: float) -> bytes:
    proto = onnx.load_from_string(data)
    weights = weight_matrices(proto)
    found = [
        (position, tensor)
        for position, tensor in enumerate(proto.graph.initializer)
        if tensor.name in weights
    ]
    if not found:
        raise ValueError("the model has no float weight matrices (MatMul, Gemm, Conv) to prune")
    for position, tensor in found:
        array = numpy_helper.to_array(tensor)
        proto.graph.initializer[position].CopyFrom(
            numpy_helper.from_array(prune_smallest(array, level), tensor.name)
        )
    return _serialise(proto)


def prune_smallest(array: np.ndarray, level: float) -> np.ndarray:
    """`array` with its round(level × size) smallest-magnitude entries set to zero."""
    flat = array.astype(np.float32).ravel()
    count = round(level * flat.size)
    order = np.argsort(np.abs(flat), kind="stable")
    flat[order[:count]] = 0.0
    return flat.reshape(array.shape)


def _serialise(proto: onnx.ModelProto) -> bytes:
    return canonical_bytes(proto)


@contextmanager
def _files(data: bytes) -> Iterator[tuple[Path, Path]]:
    """The quantisers read and write model files."""
    with tempfile.TemporaryDirectory(prefix="staticml-quantize-") as folder:
        source, target = Path(folder) / "model.onnx", Path(folder) / "quantized.onnx"
        proto = onnx.load_from_string(data)
        merged = single_default_opset(proto)
        source.write_bytes(data if merged is proto else merged.SerializeToString())
        yield source, target


class _Advice(logging.Filter):
    """The quantisers log advice on the root logger (run `quant_pre_process`, tensors left
    unquantised); it is not the app's to act on, and failures raise anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


@contextmanager
def _quiet_quantiser() -> Iterator[None]:
    root, advice = logging.getLogger(), _Advice()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)
