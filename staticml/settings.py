"""Every setting of `staticml.toml`, declared as data: key, parser, default and help text.

`docs/configuration.md` documents each of them (a test checks it). Parsers take the raw TOML
value and return the parsed one or raise ValueError with a reason written for a person.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()
FIELD_TYPES = ("number", "integer", "category", "text", "image")
MODEL_SUFFIXES = (".onnx", ".joblib", ".pkl", ".pickle")
OUTPUT_KINDS = ("classification", "regression")
# The compressed variants of a model the build can make (besides `pruned-NN`, `pruned-NN-int8`
# and `pruned-NN-int8-static`, three per `compress.prune` level); `fp32` is the model as given.
VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8-static")
COMPRESS_MODES = ("auto", "off")
_PRUNED = re.compile(r"(pruned-\d{2})(-int8|-int8-static)?")

_SLUG = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_COLLECTOR = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?\s*([<>=!~]=?[^;\s]+(\s*,\s*[<>=!~]=?[^;\s]+)*)?"
    r"([ ]+--hash=sha256:[0-9a-f]{64})*"
)


@dataclass(frozen=True)
class EntryPoint:
    """A `module:function` reference; the module is imported from the app directory."""

    module: str
    function: str

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


@dataclass(frozen=True)
class Setting:
    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {describe(value)}")
    return value


def slug(value: Any) -> str:
    text = string(value)
    if not _SLUG.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a valid name: use lowercase letters, digits, '-' or '_', "
            "starting with a letter (at most 64 characters)"
        )
    return text


def identifier(value: Any) -> str:
    text = string(value)
    if not _IDENTIFIER.fullmatch(text):
        raise ValueError(f"{text!r} is not a valid identifier (letters, digits and '_')")
    return text


def tensor_name(value: Any) -> str:
    text = string(value)
    if not text or len(text) > 200:
        raise ValueError("expected the name of a tensor of the ONNX model")
    return text


def entry_point(value: Any) -> EntryPoint:
    text = string(value)
    module, sep, function = text.partition(":")
    if not sep or not _DOTTED.fullmatch(module) or not _IDENTIFIER.fullmatch(function):
        raise ValueError(
            f"{text!r} is not a 'module:function' reference (for example 'digits.preprocess:features')"
        )
    return EntryPoint(module, function)


def relative_path(suffixes: tuple[str, ...] = ()) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = string(value)
        if not text or text.startswith(("/", "\\")) or ".." in text.replace("\\", "/").split("/"):
            raise ValueError(f"{text!r} must be a path inside the app directory, like 'model.onnx'")
        if suffixes and not text.lower().endswith(suffixes):
            raise ValueError(f"{text!r} must end with one of {', '.join(suffixes)}")
        return text

    return parse


def int_range(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {describe(value)}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a number {bound}, got {value}")
        return value

    return parse


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {describe(value)}")
    return value


def positive_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"expected a positive number of seconds, got {describe(value)}")
    return float(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


def anything(value: Any) -> Any:
    return value


def one_of(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = string(value)
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {text!r}")
        return text

    return parse


def fractions(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1 for v in value
    ):
        raise ValueError(f"expected a list of fractions between 0 and 1, got {describe(value)}")
    percents = [round(v * 100) for v in value]
    if len(set(percents)) != len(percents) or any(not 1 <= p <= 99 for p in percents):
        raise ValueError("the levels must differ in whole percents, from 0.01 to 0.99")
    return tuple(p / 100 for p in sorted(percents))


def compress_mode(value: Any) -> str:
    """`auto`, `off`, or the name of one variant to ship regardless of the gate."""
    text = string(value)
    if text in COMPRESS_MODES or text in VARIANTS or _PRUNED.fullmatch(text):
        return text
    raise ValueError(
        f"expected auto, off or a variant ({', '.join(VARIANTS)}, pruned-NN, pruned-NN-int8, "
        "pruned-NN-int8-static), "
        f"got {text!r}"
    )


def pruned_name(level: float) -> str:
    return f"pruned-{round(level * 100):02d}"


def unknown_pruning(mode: str, levels: tuple[float, ...]) -> str | None:
    """Why `mode` names a pruned variant the `compress.prune` levels do not make, if it does."""
    found = _PRUNED.fullmatch(mode)
    if found is None or found.group(1) in map(pruned_name, levels):
        return None
    made = ", ".join(pruned_name(level) for level in levels) or "none"
    return f"{mode} is not made by the compress.prune levels (they make {made})"


def string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a list of strings, got {describe(value)}")
    if len(set(value)) != len(value):
        raise ValueError("the list has duplicates")
    return tuple(value)


def choice_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        value = [str(v) for v in value]
    parsed = string_list(value)
    if not parsed:
        raise ValueError("a category needs at least one choice")
    return parsed


def collector_url(value: Any) -> str:
    text = string(value).rstrip("/")
    if not _COLLECTOR.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a collector URL: write http(s)://host[:port][/path], e.g. "
            "https://beacon.example.com (the page posts to <url>/v1/summaries)"
        )
    return text


def non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e6:
        raise ValueError(f"expected a number of at least 0, got {describe(value)}")
    return float(value)


def drift_conditions(value: Any) -> tuple[str, ...]:
    from staticml.collector.alerts import parse_condition
    from staticml.errors import StaticMLError

    texts = string_list(value)
    for text in texts:
        try:
            parse_condition(text)
        except StaticMLError as exc:
            raise ValueError(str(exc).replace("--fail-on ", "")) from exc
    return texts


def drift_window(value: Any) -> str:
    from staticml.collector.report import parse_window
    from staticml.errors import StaticMLError

    text = string(value)
    try:
        parse_window(text)
    except StaticMLError as exc:
        raise ValueError(str(exc)) from exc
    return text


def fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"expected a number between 0 and 1 (exclusive), got {describe(value)}")
    return float(value)


def percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise ValueError(f"expected a percentage above 0 and at most 100, got {describe(value)}")
    return float(value)


def epsilon(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.01 <= value <= 10:
        raise ValueError(f"expected a privacy budget ε from 0.01 to 10, got {describe(value)}")
    return float(value)


def requirements(value: Any) -> tuple[str, ...]:
    parsed = string_list(value)
    for requirement in parsed:
        if not _REQUIREMENT.fullmatch(requirement.strip()):
            raise ValueError(
                f"{requirement!r} is not a requirement like "
                "'package==1.2 --hash=sha256:<64 hex digits>'"
            )
    return parsed


SETTINGS: tuple[Setting, ...] = (
    Setting("app.name", slug, REQUIRED, "Short name of the app; names its wheel and bundle."),
    Setting("app.title", string, None, "Title shown on the page (defaults to the name)."),
    Setting("app.description", string, "", "One or two sentences shown under the title."),
    Setting(
        "model.file",
        relative_path(MODEL_SUFFIXES),
        None,
        "The model: an ONNX file, or a scikit-learn estimator or pipeline saved with joblib or "
        "pickle (converted to ONNX with skl2onnx). Give this or `model.train`.",
    ),
    Setting(
        "model.train",
        entry_point,
        None,
        "Build-time `module:function` in the app directory returning a fitted scikit-learn "
        "estimator; it is converted to ONNX with skl2onnx. Give this or `model.file`.",
    ),
    Setting(
        "model.input_name",
        tensor_name,
        None,
        "Name of the ONNX model's input tensor (default: its only input; `input` for "
        "converted scikit-learn models).",
    ),
    Setting(
        "model.n_features",
        int_range(1),
        None,
        "Length of the feature vector (default: read from the model); checked against the model.",
    ),
    Setting(
        "model.opset", int_range(9, 23), 17, "ONNX opset scikit-learn models are converted to."
    ),
    Setting(
        "model.label_output",
        tensor_name,
        None,
        "Classifiers: the output tensor with the predicted label (default: found by its type).",
    ),
    Setting(
        "model.probabilities_output",
        tensor_name,
        None,
        "Classifiers: the output tensor with class probabilities (default: found by its shape).",
    ),
    Setting(
        "model.value_output",
        tensor_name,
        None,
        "Regressors: the output tensor with the predicted value (default: the only output).",
    ),
    Setting(
        "model.training_data",
        entry_point,
        None,
        "Optional build-time `module:function` returning the training data (arrays or bytes); "
        "only its sha256 is recorded, in the model report's provenance.",
    ),
    Setting(
        "output.kind",
        one_of(OUTPUT_KINDS),
        None,
        "`classification` or `regression` (default: from the model).",
    ),
    Setting(
        "output.classes",
        string_list,
        None,
        "Classifiers: the label shown for each class, in the model's class order (default: the "
        "model's own class values).",
    ),
    Setting("output.target", string, "prediction", "Regressors: the name of the predicted value."),
    Setting("output.unit", string, "", "Regressors: the unit shown after the value."),
    Setting(
        "preprocess.entry",
        entry_point,
        REQUIRED,
        "Pure-Python `module:function` that turns one record into the feature vector; its "
        "top-level package is shipped to the browser as a wheel.",
    ),
    Setting(
        "preprocess.batch",
        entry_point,
        None,
        "Optional `module:function` turning a list of records into a list of feature vectors, "
        "used for batch scoring (same package as the entry).",
    ),
    Setting(
        "preprocess.dependencies",
        requirements,
        (),
        "Extra pure-Python packages the preprocessing imports, each pinned as "
        "`name==version --hash=sha256:…`; the build downloads their wheels for Pyodide's "
        "Python with `pip download --require-hashes` and ships them.",
    ),
    Setting(
        "samples.source",
        entry_point,
        None,
        "Build-time `module:function` returning sample records; the build ships them with "
        "reference predictions computed in CPython.",
    ),
    Setting(
        "samples.file",
        relative_path((".csv", ".json")),
        None,
        "A CSV (one record per row, one column per field) or JSON file of sample records, "
        "instead of `samples.source`.",
    ),
    Setting(
        "page.template",
        relative_path((".html",)),
        None,
        "A Jinja2 template in the app directory replacing staticml's `index.html`.",
    ),
    Setting(
        "monitor.collector",
        collector_url,
        None,
        "URL of a `staticml beacon` collector; when set, pages send summaries of counts "
        "(bin counts, never values) for drift monitoring. Off when unset.",
    ),
    Setting(
        "monitor.reference",
        entry_point,
        None,
        "Build-time `module:function` returning reference records (typically the training "
        "data) from which the baseline's bins and counts are computed.",
    ),
    Setting(
        "monitor.reference_file",
        relative_path((".csv", ".json")),
        None,
        "A CSV or JSON file of reference records, instead of `monitor.reference`.",
    ),
    Setting(
        "monitor.min_predictions",
        int_range(5, 10_000),
        20,
        "k: predictions (all from one browser, not k people) a summary must aggregate before "
        "it may be sent.",
    ),
    Setting(
        "monitor.interval_minutes",
        non_negative,
        15.0,
        "Send summaries at most this often during a visit (0: as soon as one is ready); "
        "summaries ready at page hide are sent then.",
    ),
    Setting(
        "monitor.epsilon",
        epsilon,
        None,
        "Local differential privacy: add two-sided geometric noise with this ε to every "
        "count of a summary (unset: exact counts).",
    ),
    Setting("monitor.bins", int_range(2, 32), 10, "Bins per numeric feature (from quantiles)."),
    Setting(
        "train.stateless",
        entry_point,
        None,
        "Build-time `module:function(records, labels)` returning a model trained from scratch "
        "(typically on the original training data plus the new records): `staticml retrain "
        "--mode stateless`.",
    ),
    Setting(
        "train.stateful",
        entry_point,
        None,
        "Build-time `module:function(model, records, labels)` continuing the current model's "
        "training on the new records only (e.g. `warm_start` or `partial_fit`): `staticml "
        "retrain --mode stateful`.",
    ),
    Setting(
        "retrain.budget",
        non_negative,
        0.5,
        "Classifiers: the most accuracy (percentage points) a retrained candidate may lose "
        "against the current release, on the evaluation data and on the new data.",
    ),
    Setting(
        "retrain.relative_budget",
        non_negative,
        1.0,
        "Regressors: the most a candidate's mean absolute error may grow over the current "
        "release's, in percent.",
    ),
    Setting(
        "retrain.holdout",
        fraction,
        0.2,
        "Share of the new data held out from training to compare candidate and current "
        "release on (chosen by a hash of each record, so the same rows every time).",
    ),
    Setting(
        "retrain.trigger",
        drift_conditions,
        ("psi>=0.2",),
        "`staticml watch` retrains when the drift report crosses one of these conditions "
        "(as `staticml drift --fail-on`).",
    ),
    Setting(
        "retrain.window",
        drift_window,
        "24h",
        "The drift report window `staticml watch` reads (24h, 7d, ...).",
    ),
    Setting(
        "retrain.canary_percent",
        percent,
        10.0,
        "Share of browsers a shadow candidate moves to when its evidence is good.",
    ),
    Setting(
        "retrain.min_predictions",
        int_range(1),
        200,
        "Predictions a shadow or canary release must have been compared on before `staticml "
        "watch` advances or rolls it back.",
    ),
    Setting(
        "retrain.min_agreement",
        fraction,
        0.9,
        "Share of predictions on which a shadow release must agree with the current one for "
        "`staticml watch` to start its canary.",
    ),
    Setting("runtime.threads", int_range(1, 16), 1, "onnxruntime-web threads (needs COOP/COEP)."),
    Setting(
        "runtime.boot_timeout",
        positive_seconds,
        60.0,
        "Seconds the page waits for the runtimes to start before showing an error.",
    ),
    Setting(
        "runtime.snapshot",
        boolean,
        True,
        "Ship a Pyodide memory snapshot made at build time with the app imported (made in "
        "headless Chromium): Python starts several times faster for ~4.4 MB more to download.",
    ),
    Setting(
        "compress.mode",
        compress_mode,
        "auto",
        "`auto` ships the smallest variant that keeps accuracy within the budget and runs in "
        "the browser like CPython; `off` ships the model as given; a variant name ships that one.",
    ),
    Setting(
        "compress.budget",
        non_negative,
        0.5,
        "Classifiers: the most accuracy a compressed variant may lose, in percentage points.",
    ),
    Setting(
        "compress.relative_budget",
        non_negative,
        1.0,
        "Regressors: the most the mean absolute error may grow, in percent of the original's.",
    ),
    Setting(
        "compress.eval",
        entry_point,
        None,
        "Build-time `module:function` returning held-out `{'record': ..., 'label': ...}` items "
        "the variants are measured on (without labels: agreement with the original).",
    ),
    Setting(
        "compress.eval_file",
        relative_path((".csv", ".json")),
        None,
        "A CSV (one column per field, plus the label column) or JSON file of evaluation items, "
        "instead of `compress.eval`.",
    ),
    Setting(
        "compress.label",
        string,
        "label",
        "The label column of `compress.eval_file` (a class value, or the target of a regressor).",
    ),
    Setting(
        "compress.calibration",
        entry_point,
        None,
        "Build-time `module:function` returning records to calibrate static int8 quantisation "
        "on (default: the evaluation records).",
    ),
    Setting(
        "compress.prune",
        fractions,
        (0.5, 0.9),
        "Magnitude-pruning levels: for each, a variant with that share of each weight matrix's "
        "smallest weights set to zero (`pruned-50`), and the same quantised (`pruned-50-int8`, "
        "`pruned-50-int8-static`).",
    ),
    Setting(
        "build.brotli_quality",
        int_range(0, 11),
        11,
        "Brotli quality of the precompressed `.br` files (11 = smallest, slowest; cached).",
    ),
)

FIELD_SETTINGS: tuple[Setting, ...] = (
    Setting("name", identifier, REQUIRED, "Key of the field in a record (and CSV column name)."),
    Setting("type", one_of(FIELD_TYPES), REQUIRED, f"One of: {', '.join(FIELD_TYPES)}."),
    Setting("label", string, None, "Label shown in the page (defaults to the name)."),
    Setting("description", string, "", "Help text shown with the field."),
    Setting(
        "required",
        boolean,
        True,
        "Whether a record must have a value; a field with a `default` is never required.",
    ),
    Setting("default", anything, None, "Value used when a record has none (must be valid itself)."),
    Setting("min", number, None, "Numbers and integers: the smallest allowed value."),
    Setting("max", number, None, "Numbers and integers: the largest allowed value."),
    Setting("choices", choice_list, None, "Categories: the allowed values (required)."),
    Setting("max_length", int_range(1), 10_000, "Text: the longest allowed value, in characters."),
    Setting(
        "canvas_size",
        int_range(32, 1024),
        280,
        "Images: side of the drawing canvas in CSS pixels.",
    ),
)
