"""Gradient-boosted trees from XGBoost and LightGBM, as ONNX: the frameworks besides
scikit-learn that a model may come from, and how each is loaded and converted.

- A scikit-learn wrapper (`XGBClassifier`, `XGBRegressor`, `LGBMClassifier`, `LGBMRegressor`),
  alone or as the last step of a pipeline, is converted by skl2onnx once onnxmltools' converter
  for it is registered (`update_registered_converter`, skl2onnx's documented way), so it gets
  the same operator sets and plain tensor outputs as any scikit-learn model.
- A native booster (`xgboost.Booster` saved as `.json` or `.ubj`, `lightgbm.Booster` saved as
  `.txt`) is converted by onnxmltools' `convert_xgboost` / `convert_lightgbm` directly.

Each framework is an extra (`pip install 'staticml[xgboost]'`, `'staticml[lightgbm]'`): a
model whose framework or converter is missing is refused with the extra to install. Both
convert to ai.onnx.ml's TreeEnsembleClassifier/Regressor (operator set 1 or 3), which
onnxruntime-web's wasm build runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import BuildError

# How an ensemble combines its trees (stages/trees.py): boosting adds them, a forest averages.
SUMMED = "summed"
AVERAGED = "averaged"
# onnxmltools converts with the default operator set at most 15 (onnxconverter-common's limit).
NATIVE_OPSET = 15


@dataclass(frozen=True)
class Framework:
    name: str  # as users know it
    module: str  # the top-level package its models are pickled from
    extra: str  # staticml's extra that installs it and its converter
    suffixes: tuple[str, ...]  # native model files
    article: str = "a"  # "an XGBoost model"

    def install_hint(self) -> str:
        return f"install it with: pip install 'staticml[{self.extra}]'"


XGBOOST = Framework("XGBoost", "xgboost", "xgboost", (".json", ".ubj"), "an")
LIGHTGBM = Framework("LightGBM", "lightgbm", "lightgbm", (".txt",))
FRAMEWORKS = (XGBOOST, LIGHTGBM)
NATIVE_SUFFIXES = tuple(suffix for f in FRAMEWORKS for suffix in f.suffixes)

# The scikit-learn wrappers, by framework: (class, skl2onnx alias, classifier?).
_WRAPPERS = {
    "xgboost": (
        ("XGBClassifier", "XGBoostXGBClassifier", True),
        ("XGBRegressor", "XGBoostXGBRegressor", False),
    ),
    "lightgbm": (
        ("LGBMClassifier", "LightGbmLGBMClassifier", True),
        ("LGBMRegressor", "LightGbmLGBMRegressor", False),
    ),
}
_CONVERTERS = {
    "xgboost": ("onnxmltools.convert.xgboost.operator_converters.XGBoost", "convert_xgboost"),
    "lightgbm": ("onnxmltools.convert.lightgbm.operator_converters.LightGbm", "convert_lightgbm"),
}


def framework_of_module(name: str | None) -> Framework | None:
    """The framework a missing module (`ModuleNotFoundError.name`) belongs to, if any."""
    root = (name or "").partition(".")[0]
    return next((f for f in FRAMEWORKS if f.module == root), None)


def native_framework(path: Path) -> Framework | None:
    suffix = path.suffix.lower()
    return next((f for f in FRAMEWORKS if suffix in f.suffixes), None)


def frameworks_in(estimator: Any) -> tuple[Framework, ...]:
    """The frameworks (besides scikit-learn) whose estimators `estimator` holds: itself, or the
    steps and nested estimators of a pipeline."""
    found = [estimator]
    if hasattr(estimator, "get_params"):
        found += [v for v in estimator.get_params(deep=True).values() if hasattr(v, "fit")]
    roots = {type(item).__module__.partition(".")[0] for item in found}
    return tuple(f for f in FRAMEWORKS if f.module in roots)


def combination_of(estimator: Any) -> str | None:
    """How the estimator (or a pipeline's last step) combines its trees, if it is an ensemble."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    name = type(final).__name__
    root = type(final).__module__.partition(".")[0]
    if root in ("xgboost", "lightgbm", "catboost") or "GradientBoosting" in name:
        return SUMMED
    if name.startswith(("RandomForest", "ExtraTrees", "Bagging")):
        return AVERAGED
    return None


def register_converters(estimator: Any, origin: str) -> None:
    """Make skl2onnx convert the XGBoost and LightGBM wrappers `estimator` holds."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    for framework in frameworks_in(estimator):
        package = _require(framework.module, framework, origin)
        converter = _converter(framework, origin)
        for class_name, alias, classifier in _WRAPPERS[framework.module]:
            update_registered_converter(
                getattr(package, class_name),
                alias,
                calculate_linear_classifier_output_shapes
                if classifier
                else calculate_linear_regressor_output_shapes,
                converter,
                options={"nocl": [True, False], "zipmap": [True, False, "columns"]}
                if classifier
                else None,
            )


def load_native(path: Path, origin: str) -> Any:
    """A booster saved in its framework's own format."""
    framework = native_framework(path)
    assert framework is not None, path
    package = _require(framework.module, framework, origin)
    try:
        return package.Booster(model_file=str(path))
    except Exception as exc:
        raise BuildError(
            f"{origin} is not {framework.article} {framework.name} model file ({type(exc).__name__}: {exc}). "
            f"Save the booster with booster.save_model('{path.name}')."
        ) from exc


def is_native_booster(model: Any) -> bool:
    return type(model).__name__ == "Booster" and frameworks_in(model) != ()


def native_features(booster: Any) -> int:
    if frameworks_in(booster) == (XGBOOST,):
        return int(booster.num_features())
    return int(booster.num_feature())


def native_kind(booster: Any) -> str:
    """ "classification" or "regression", from the booster's objective."""
    if frameworks_in(booster) == (XGBOOST,):
        import json

        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        return "classification" if objective.startswith(("binary:", "multi:")) else "regression"
    objective = str(booster.dump_model().get("objective", "")).split()[0]
    classifying = ("binary", "multiclass", "multiclassova", "cross_entropy")
    return "classification" if objective in classifying else "regression"


def convert_native(booster: Any, input_name: str, n_features: int, origin: str) -> Any:
    """A native booster as an ONNX ModelProto with plain tensor outputs."""
    [framework] = frameworks_in(booster)
    onnxmltools = _require("onnxmltools", framework, origin)
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [(input_name, FloatTensorType([None, n_features]))]
    try:
        if framework is XGBOOST:
            proto = onnxmltools.convert_xgboost(
                booster, initial_types=types, target_opset=NATIVE_OPSET
            )
        else:
            proto = onnxmltools.convert_lightgbm(
                booster, initial_types=types, target_opset=NATIVE_OPSET, zipmap=False
            )
    except Exception as exc:
        raise BuildError(
            f"onnxmltools could not convert the {framework.name} booster ({origin}): {exc}"
        ) from exc
    return _any_batch(proto)


def _any_batch(proto: Any) -> Any:
    """onnxmltools declares LightGBM's label output with one row; it has one per input row."""
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value"):
            dims[0].ClearField("dim_value")
    return proto


def _require(module: str, framework: Framework, origin: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BuildError(
            f"{origin} is {framework.article} {framework.name} model, and converting it needs {module}, which is "
            f"not installed: {framework.install_hint()}"
        ) from exc


def _converter(framework: Framework, origin: str) -> Any:
    module, function = _CONVERTERS[framework.module]
    _require("onnxmltools", framework, origin)
    return getattr(importlib.import_module(module), function)


def without_zipmap(data: bytes) -> bytes:
    """The model with a ZipMap on its probabilities removed (CatBoost's ONNX export writes one):
    its output, a sequence of maps, cannot be read in the browser; the tensor it maps can.
    Unchanged when the graph has none, or is no ONNX (inspect_onnx says so)."""
    import onnx

    try:
        proto = onnx.load_from_string(data)
    except Exception:
        return data
    outputs = {o.name: o for o in proto.graph.output}
    zipmaps = [n for n in proto.graph.node if n.op_type == "ZipMap" and n.output[0] in outputs]
    if not zipmaps:
        return data
    for node in zipmaps:
        source, name = node.input[0], node.output[0]
        proto.graph.node.remove(node)
        for other in proto.graph.node:
            other.output[:] = [name if o == source else o for o in other.output]
            other.input[:] = [name if i == source else i for i in other.input]
        output = outputs[name]
        output.type.CopyFrom(
            onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, [None, None])
        )
    return proto.SerializeToString()
