"""Stage: train the app's estimator and convert it to ONNX, reproducibly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import onnx
from threadpoolctl import threadpool_limits

from staticml.build.imports import call, isolated_imports
from staticml.config import AppConfig
from staticml.errors import BuildError


@dataclass(frozen=True)
class ModelArtifact:
    onnx: bytes
    input_name: str
    n_features: int
    label_output: str
    probabilities_output: str
    classes: tuple[str, ...]


def train_model(config: AppConfig) -> ModelArtifact:
    with isolated_imports(config.app_dir), threadpool_limits(limits=1):
        estimator = call(config.model.train, "model.train", config.app_dir)
    return convert(estimator, config)


def convert(estimator: Any, config: AppConfig) -> ModelArtifact:
    """ONNX with plain tensor outputs (label, probabilities), no ZipMap."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if not hasattr(final, "classes_") or not hasattr(estimator, "predict_proba"):
        raise BuildError(
            f"model.train = '{config.model.train}' returned {type(estimator).__name__}, which is "
            "not a fitted scikit-learn classifier with predict_proba. staticml builds "
            "classifiers; return the fitted estimator or pipeline."
        )
    n_features = getattr(estimator, "n_features_in_", config.model.n_features)
    if n_features != config.model.n_features:
        raise BuildError(
            f"model.n_features is {config.model.n_features}, but the trained model takes "
            f"{n_features} features. Make them agree in {config.source.name}."
        )
    try:
        proto = to_onnx(
            estimator,
            initial_types=[(config.model.input_name, FloatTensorType([None, n_features]))],
            options={id(final): {"zipmap": False}},
            target_opset={"": config.model.opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:
        raise BuildError(f"skl2onnx could not convert {type(estimator).__name__}: {exc}") from exc
    proto.doc_string = ""
    onnx.checker.check_model(proto)
    outputs = [output.name for output in proto.graph.output]
    if len(outputs) != 2:
        raise BuildError(
            f"expected the ONNX model to have label and probabilities outputs, got {outputs}"
        )
    return ModelArtifact(
        onnx=proto.SerializeToString(deterministic=True),
        input_name=config.model.input_name,
        n_features=n_features,
        label_output=outputs[0],
        probabilities_output=outputs[1],
        classes=tuple(str(c) for c in final.classes_),
    )
