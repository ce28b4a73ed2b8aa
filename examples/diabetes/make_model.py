"""Fit the diabetes example's model with numpy and write it as a plain ONNX graph.

No scikit-learn estimator is involved: the model is a least-squares linear regression on
standardised features, written node by node with `onnx.helper` (this is how a model exported
from any framework arrives: just an .onnx file). Run from this folder: `python make_model.py`.
It writes `model.onnx`, the scaling constants the preprocessing uses
(`diabetes_app/scaling.json`), `samples.json` (held-out patients), `reference.json` (the
training patients, the drift-monitoring baseline's data) and `eval.json` (all 40 held-out
patients with their measured progression as the label, which the build measures the
compressed model variants on). All are committed.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from diabetes_app.preprocess import FEATURES
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_diabetes

SEED = 0


def main() -> None:
    data = load_diabetes(scaled=False)
    order = np.random.default_rng(SEED).permutation(len(data.target))
    test, train = order[:40], order[40:]
    x, y = data.data[train], data.target[train]
    mean, std = x.mean(axis=0), x.std(axis=0)
    design = np.column_stack([(x - mean) / std, np.ones(len(x))])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    weights, bias = coefficients[:-1], coefficients[-1]
    with open("diabetes_app/scaling.json", "w") as handle:
        json.dump({"mean": mean.round(6).tolist(), "std": std.round(6).tolist()}, handle, indent=1)
    onnx.save(linear_model(weights, bias), "model.onnx")
    samples = [
        {"name": f"patient {i + 1}", "record": record(row)}
        for i, row in enumerate(data.data[test][:10])
    ]
    with open("samples.json", "w") as handle:
        json.dump(samples, handle, indent=1)
    with open("reference.json", "w") as handle:
        json.dump([record(row) for row in x], handle)
    held_out = [
        {"record": record(row), "label": float(target)}
        for row, target in zip(data.data[test], data.target[test], strict=True)
    ]
    with open("eval.json", "w") as handle:
        json.dump(held_out, handle, indent=1)
    predicted = ((data.data[test] - mean) / std) @ weights + bias
    error = np.abs(predicted - data.target[test]).mean()
    print(f"held-out mean absolute error: {error:.1f} (target range 25-346)")


def linear_model(weights: np.ndarray, bias: float) -> onnx.ModelProto:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "weights"], ["scaled"]),
            helper.make_node("Add", ["scaled", "bias"], ["progression"]),
        ],
        "diabetes_linear_regression",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(FEATURES)])],
        [helper.make_tensor_value_info("progression", TensorProto.FLOAT, [None, 1])],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32).reshape(-1, 1), "weights"),
            numpy_helper.from_array(np.array([bias], dtype=np.float32), "bias"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="numpy"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def record(row: np.ndarray) -> dict:
    values = dict(zip(FEATURES, row.tolist(), strict=True))
    values["age"] = int(values["age"])
    values["sex"] = str(int(values["sex"]))
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items()}


if __name__ == "__main__":
    main()
