"""Stage: the app's model as ONNX bytes, with what the page needs to know about it.

The model comes from an ONNX file, from a scikit-learn estimator saved with joblib or pickle,
from an XGBoost or LightGBM booster saved in its own format, or from a build-time training
function; scikit-learn models (XGBoost's and LightGBM's wrappers among them) are converted with
skl2onnx (plain tensor outputs, no ZipMap), native boosters with onnxmltools
(staticml/converters.py). Whatever the source, the ONNX graph is then inspected the
same way: one float input of shape [batch, features], and either a label and a probabilities
output (classification) or one value output (regression).

An app without `preprocess.entry` gives a model that takes the record's fields directly: a
scikit-learn `Pipeline` starting with a `ColumnTransformer` is converted with one [batch, 1]
input per column (`staticml.pipeline_fields`), float or string; an ONNX file must have such
inputs, each named after a field.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime

from staticml import converters
from staticml.cache import default_cache_dir
from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.estimator_file import load_estimator
from staticml.pipeline_fields import column_inputs
from staticml.runtime.columns import STRING, ModelInput
from staticml.runtime.contract import OutputSpec, ShownOutput
from staticml.stages.field_inputs import field_inputs
from staticml.training import cached_training

log = logging.getLogger("staticml.build")

# Operator domains onnxruntime-web's wasm build implements; anything else cannot load there.
BROWSER_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
_LABEL_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.STRING}


@dataclass(frozen=True)
class ModelArtifact:
    onnx: bytes
    origin: str
    kind: str
    input_name: str
    n_features: int
    label_output: str | None
    probabilities_output: str | None
    value_output: str | None
    class_values: tuple[str, ...]
    classes: tuple[str, ...]
    inputs: tuple[ModelInput, ...] = ()  # a model taking the record's fields: one per field
    trees: str | None = None  # how a tree ensemble combines its trees, when its estimator tells

    def spec(self) -> OutputSpec:
        return OutputSpec(
            kind=self.kind,
            input=self.input_name,
            n_features=self.n_features,
            label=self.label_output,
            probabilities=self.probabilities_output,
            value=self.value_output,
            class_values=self.class_values,
            classes=self.classes,
            inputs=self.inputs,
        )

    def output_spec(self, target: str, unit: str) -> ShownOutput:
        """The worker configuration's `output`: the outputs and how they are shown."""
        return ShownOutput(self.spec(), target, unit)


def load_model(config: AppConfig, cache_dir: Path | None = None) -> ModelArtifact:
    """The app's model as ONNX; a `model.train` result is kept in `cache_dir` (default: the
    build cache)."""
    settings = config.model
    if settings.file is not None and settings.file.suffix.lower() == ".onnx":
        data = converters.without_zipmap(_read_onnx(settings.file))
        return inspect_onnx(data, config, _shown(settings.file, config))
    if settings.file is not None and converters.native_framework(settings.file) is not None:
        origin = _shown(settings.file, config)
        return convert(converters.load_native(settings.file, origin), config, origin)
    if settings.file is not None:
        estimator = _unpickle(settings.file)
        return convert(estimator, config, _shown(settings.file, config))
    assert settings.train is not None
    estimator = cached_training(settings.train, config.app_dir, cache_dir or default_cache_dir())
    return convert(estimator, config, f"model.train = '{settings.train}'")


def convert(estimator: Any, config: AppConfig, origin: str) -> ModelArtifact:
    """A scikit-learn estimator or pipeline (XGBoost's and LightGBM's wrappers included), or a
    native booster, as ONNX with plain tensor outputs."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_regressor

    if converters.is_native_booster(estimator):
        return _convert_booster(estimator, config, origin)
    converters.register_converters(estimator, origin)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    classifier = hasattr(final, "classes_") and hasattr(estimator, "predict_proba")
    if not classifier and not is_regressor(estimator):
        raise BuildError(
            f"{origin} is {type(estimator).__name__}, which is not a fitted scikit-learn "
            "classifier (with predict_proba) or regressor. Save or return the fitted estimator "
            "or pipeline."
        )
    n_features = getattr(estimator, "n_features_in_", None) or config.model.n_features
    if n_features is None:
        raise BuildError(
            f"{origin}: the model does not say how many features it takes; set model.n_features."
        )
    input_name = config.model.input_name or "input"
    options = {id(final): {"zipmap": False}} if classifier else {}
    initial_types = (
        _column_types(estimator, config, origin)
        if config.preprocess.entry is None
        else [(input_name, FloatTensorType([None, n_features]))]
    )
    try:
        proto = to_onnx(
            estimator,
            initial_types=initial_types,
            options=options,
            target_opset={"": config.model.opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:
        hint = (
            " A string column's SimpleImputer must have a string missing_values: "
            'SimpleImputer(missing_values="", ...); staticml feeds "" for a missing category.'
            if "missing values are string" in str(exc)
            else ""
        )
        raise BuildError(
            f"skl2onnx could not convert {type(estimator).__name__} ({origin}): {exc}.{hint}"
        ) from exc
    classes = tuple(str(c) for c in final.classes_) if classifier else ()
    artifact = inspect_onnx(canonical_bytes(proto), config, origin, classes)
    return dataclasses.replace(artifact, trees=converters.combination_of(estimator))


def _convert_booster(booster: Any, config: AppConfig, origin: str) -> ModelArtifact:
    n_features = converters.native_features(booster)
    proto = converters.convert_native(
        booster, config.model.input_name or "input", n_features, origin
    )
    kind = converters.native_kind(booster)
    artifact = inspect_onnx(canonical_bytes(proto), config, origin, kind=kind)
    return dataclasses.replace(artifact, trees=converters.SUMMED)


def _column_types(estimator: Any, config: AppConfig, origin: str) -> list[tuple[str, Any]]:
    """skl2onnx's initial types for a pipeline taking the record's fields: one per column."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    try:
        inputs = column_inputs(estimator, [f.name for f in config.input])
    except BuildError as exc:
        raise BuildError(f"{origin}: {exc}") from exc
    return [
        (i.name, StringTensorType([None, 1]) if i.type == STRING else FloatTensorType([None, 1]))
        for i in inputs
    ]


def canonical_bytes(proto: onnx.ModelProto) -> bytes:
    """The model's bytes, the same for the same model in every process.

    skl2onnx and onnxruntime's quantisers list the operator sets a model imports in the order a
    Python set yields them, which can differ from one process to the next: the demo's model was
    seen with `["", "ai.onnx.ml"]` in one build and `["ai.onnx.ml", ""]` in another, the same
    weights in other bytes and so another content hash. The order means nothing to ONNX.
    """
    imports = sorted(proto.opset_import, key=lambda entry: (entry.domain, entry.version))
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    del proto.opset_import[:]
    proto.opset_import.extend(imports)
    proto.doc_string = ""
    return proto.SerializeToString(deterministic=True)


def inspect_onnx(
    data: bytes,
    config: AppConfig,
    origin: str,
    class_values: tuple[str, ...] = (),
    kind: str | None = None,
) -> ModelArtifact:
    """Check that the page can run the model and find its input and outputs."""
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise BuildError(f"{origin} is not a valid ONNX model: {exc}") from exc
    _check_domains(proto, origin)
    inputs: tuple[ModelInput, ...] = ()
    if config.preprocess.entry is None:
        inputs = field_inputs(proto, config, origin)
        input_name, n_features = "", len(inputs)
    else:
        input_name, n_features = _input(proto, config, origin)
    outputs = {o.name: o for o in proto.graph.output}
    kind = config.output.kind or kind or ("classification" if len(outputs) >= 2 else "regression")
    session = _session(data, origin)
    probe = _probe(session, _probe_feed(input_name, n_features, inputs, config), origin)
    if kind == "classification":
        label, probabilities = _classifier_outputs(outputs, config, origin)
        width = int(probe[probabilities].shape[-1])
        values = class_values or tuple(str(i) for i in range(width))
        classes = _display_classes(config, values, width, origin)
        return ModelArtifact(
            data,
            origin,
            kind,
            input_name,
            n_features,
            label,
            probabilities,
            None,
            values,
            classes,
            inputs,
        )
    value = _regressor_output(outputs, config, origin)
    return ModelArtifact(
        data, origin, kind, input_name, n_features, None, None, value, (), (), inputs
    )


def _read_onnx(path: Path) -> bytes:
    return path.read_bytes()


def _unpickle(path: Path) -> Any:
    """Load a saved estimator. Like any pickle, this runs code from the file: use your own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = load_estimator(path, BuildError, "model.file")
        except ModuleNotFoundError as exc:
            framework = converters.framework_of_module(exc.name)
            if framework is None:
                raise BuildError(
                    f"{path} could not be loaded (ModuleNotFoundError: {exc}); install the "
                    "package the model was saved with."
                ) from exc
            raise BuildError(
                f"{path} holds {framework.article} {framework.name} model, but {framework.module} is not "
                f"installed: {framework.install_hint()}"
            ) from exc
        except BuildError:
            raise
        except Exception as exc:
            raise BuildError(
                f"{path} could not be loaded ({type(exc).__name__}: {exc}); save the fitted estimator with joblib.dump or pickle.dump."
            ) from exc
    for warning in caught:
        log.warning("loading %s: %s", path.name, warning.message)
    return estimator


def _check_domains(proto: onnx.ModelProto, origin: str) -> None:
    foreign = sorted(
        {
            f"{node.domain}.{node.op_type}"
            for node in _nodes(proto.graph)
            if node.domain not in BROWSER_DOMAINS
        }
    )
    if foreign:
        raise BuildError(
            f"{origin} uses operators that onnxruntime-web cannot run: {', '.join(foreign)} "
            f"(custom domains; the browser runtime knows only {', '.join(sorted(d or 'ai.onnx' for d in BROWSER_DOMAINS - {''}))}). "
            "Export the model with standard ONNX operators."
        )


def _nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attribute.g)
            for sub in attribute.graphs:
                yield from _nodes(sub)


def _input(proto: onnx.ModelProto, config: AppConfig, origin: str) -> tuple[str, int]:
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    wanted = config.model.input_name
    chosen = [i for i in inputs if i.name == wanted] if wanted else inputs
    if len(chosen) != 1:
        names = ", ".join(i.name for i in inputs)
        fix = (
            f"no input is named {wanted!r}"
            if wanted
            else "it has several inputs; set model.input_name"
        )
        raise BuildError(f"{origin}: {fix} (inputs: {names}).")
    tensor = chosen[0].type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise BuildError(
            f"{origin}: input {chosen[0].name!r} is {onnx.TensorProto.DataType.Name(tensor.elem_type).lower()}; "
            "staticml feeds float32 features. Export the model with a float input."
        )
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    if len(dims) != 2:
        raise BuildError(
            f"{origin}: input {chosen[0].name!r} has shape {dims}; expected [batch, features]."
        )
    declared = dims[1]
    n_features = declared or config.model.n_features
    if n_features is None:
        raise BuildError(
            f"{origin}: the number of input features is not fixed in the model; set model.n_features."
        )
    if config.model.n_features is not None and config.model.n_features != n_features:
        raise BuildError(
            f"model.n_features is {config.model.n_features}, but {origin} takes {n_features} "
            f"features. Make them agree in {config.source.name}."
        )
    return chosen[0].name, n_features


def _session(data: bytes, origin: str) -> onnxruntime.InferenceSession:
    try:
        return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BuildError(f"onnxruntime cannot load {origin}: {exc}") from exc


def _probe_feed(
    name: str, n_features: int, inputs: tuple[ModelInput, ...], config: AppConfig
) -> dict[str, np.ndarray]:
    """Two rows to run the model on: zeros, or for a model taking the fields each field's
    default or first choice (an encoder fitted to refuse unknown categories refuses others)."""
    if not inputs:
        return {name: np.zeros((2, n_features), dtype=np.float32)}
    fields = {f.name: f for f in config.input}
    feed = {}
    for i in inputs:
        field = fields[i.name]
        if i.type == STRING:
            text = field.default if field.default is not None else (field.choices or ("",))[0]
            feed[i.name] = np.full((2, 1), str(text), dtype=object)
        else:
            feed[i.name] = np.zeros((2, 1), dtype=np.float32)
    return feed


def _probe(
    session: onnxruntime.InferenceSession, feed: dict[str, np.ndarray], origin: str
) -> dict[str, Any]:
    try:
        outputs = session.run(None, feed)
    except Exception as exc:
        what = ", ".join(f"{name} {values.shape}" for name, values in feed.items())
        raise BuildError(f"onnxruntime cannot run {origin} on {what}: {exc}") from exc
    return {o.name: np.asarray(v) for o, v in zip(session.get_outputs(), outputs, strict=True)}


def _classifier_outputs(outputs: dict[str, Any], config: AppConfig, origin: str) -> tuple[str, str]:
    label = config.model.label_output or next(
        (n for n, o in outputs.items() if o.type.tensor_type.elem_type in _LABEL_TYPES), None
    )
    probabilities = config.model.probabilities_output or next(
        (
            n
            for n, o in outputs.items()
            if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT and n != label
        ),
        None,
    )
    for setting, name in (
        ("model.label_output", label),
        ("model.probabilities_output", probabilities),
    ):
        if name is None or name not in outputs:
            raise BuildError(
                f"{origin}: cannot find its {setting.split('.')[1].replace('_', ' ')} (outputs: "
                f"{', '.join(outputs)}). Set {setting}, or output.kind = 'regression' for a regressor."
            )
    assert label is not None and probabilities is not None
    return label, probabilities


def _regressor_output(outputs: dict[str, Any], config: AppConfig, origin: str) -> str:
    name = config.model.value_output or (next(iter(outputs)) if len(outputs) == 1 else None)
    if name is None or name not in outputs:
        raise BuildError(
            f"{origin}: set model.value_output to the output holding the prediction (outputs: {', '.join(outputs)})."
        )
    return name


def _display_classes(
    config: AppConfig, values: tuple[str, ...], width: int, origin: str
) -> tuple[str, ...]:
    if len(values) != width:
        raise BuildError(f"{origin}: {len(values)} classes but {width} probabilities per row.")
    shown = config.output.classes or values
    if len(shown) != width:
        raise BuildError(
            f"output.classes has {len(shown)} labels, but {origin} has {width} classes; give one label per class."
        )
    return tuple(shown)


def _shown(path: Path, config: AppConfig) -> str:
    inside = path.resolve().is_relative_to(config.app_dir.resolve())
    shown = path.resolve().relative_to(config.app_dir.resolve()) if inside else path
    return f"model.file {shown.as_posix()}"
