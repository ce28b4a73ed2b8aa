"""The tables of `staticml.toml` the build reads, each setting declared once (see `.declare`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from staticml.settings.declare import REQUIRED, setting
from staticml.settings.parsers import (
    MODEL_SUFFIXES,
    OUTPUT_KINDS,
    TABLE_SUFFIXES,
    AppFile,
    AppFunction,
    EntryPoint,
    boolean,
    compress_mode,
    fractions,
    int_range,
    non_negative,
    one_of,
    positive_seconds,
    requirements,
    slug,
    string,
    string_list,
    tensor_name,
)


@dataclass(frozen=True)
class AppSettings:
    """`[app]`: what the app is called and how the page introduces it."""

    name: str = setting(slug, REQUIRED, "Short name of the app; names its wheel and bundle.")
    title: str = setting(string, None, "Title shown on the page.", unset="the name")
    description: str = setting(string, "", "One or two sentences shown under the title.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", self.title or self.name)


@dataclass(frozen=True)
class ModelSettings:
    """`[model]`: the model, given as a file or trained at build time, and its tensors."""

    file: Path | None = setting(
        AppFile(MODEL_SUFFIXES),
        None,
        "The model: an ONNX file, or a scikit-learn estimator or pipeline saved with "
        "`joblib.dump` or `pickle.dump` (`.joblib`, `.pkl` or `.pickle`, whichever wrote it), converted to ONNX with skl2onnx (XGBoost's "
        "and LightGBM's scikit-learn wrappers too), or a native XGBoost (`.json`, `.ubj`) or "
        "LightGBM (`.txt`) booster, converted with onnxmltools (see docs/models.md). Give this "
        "or `model.train`. Loading a pickle runs code from it: use your own files.",
    )
    train: EntryPoint | None = setting(
        AppFunction(),
        None,
        "Build-time `module:function` in the app directory returning a fitted scikit-learn "
        "estimator (or an XGBoost or LightGBM model); it is converted to ONNX like "
        "`model.file`. Give this or `model.file`.",
    )
    input_name: str | None = setting(
        tensor_name,
        None,
        "Name of the ONNX model's input tensor (`input` for converted scikit-learn models). It "
        "must be float32 of shape [batch, features].",
        unset="the only input",
    )
    n_features: int | None = setting(
        int_range(1),
        None,
        "Length of the feature vector; checked against the model. Needed only when the model "
        "does not fix it.",
        unset="from the model",
    )
    opset: int = setting(
        int_range(9, 23), 17, "ONNX opset scikit-learn models are converted to (9–23)."
    )
    label_output: str | None = setting(
        tensor_name,
        None,
        "Classifiers: the output tensor with the predicted label (int64 or string).",
        unset="found by type",
    )
    probabilities_output: str | None = setting(
        tensor_name,
        None,
        "Classifiers: the output tensor with class probabilities, [batch, classes].",
        unset="found by shape",
    )
    value_output: str | None = setting(
        tensor_name,
        None,
        "Regressors: the output tensor with the predicted value.",
        unset="the only output",
    )
    training_data: EntryPoint | None = setting(
        AppFunction(),
        None,
        "Optional build-time `module:function` returning the model's training data (bytes, "
        "arrays, or a tuple, list or dict of them). Only its sha256 is kept, in the model "
        "report's provenance.",
    )


@dataclass(frozen=True)
class OutputSettings:
    """`[output]`: what the prediction is and how the page shows it."""

    kind: str | None = setting(
        one_of(OUTPUT_KINDS),
        None,
        "`classification` (two outputs: label and probabilities) or `regression` (one output).",
        unset="from the model",
    )
    classes: tuple[str, ...] | None = setting(
        string_list,
        None,
        "Classifiers: the label shown for each class, in the model's class order.",
        unset="the model's class values",
    )
    target: str = setting(
        string,
        "prediction",
        "Regressors: the name of the predicted value (also the output CSV column).",
    )
    unit: str = setting(string, "", "Regressors: the unit shown after the value.")


@dataclass(frozen=True)
class PreprocessSettings:
    """`[preprocess]`: the pure-Python preprocessing shipped to the browser."""

    entry: EntryPoint | None = setting(
        AppFunction(("record",)),
        None,
        "Pure-Python `module:function` that turns one record into the feature vector; its "
        "top-level package is shipped to the browser as a wheel. Required, unless the model "
        "takes the record's fields directly (a scikit-learn `Pipeline` whose "
        "`ColumnTransformer` encodes them: see [pipelines as they are](#scikit-learn-pipelines-as-they-are)).",
        unset="the model takes the fields",
    )
    batch: EntryPoint | None = setting(
        AppFunction(("records",)),
        None,
        "Optional `module:function` turning a list of records into a list of feature vectors, "
        "used for batch scoring: a CSV file on the page and `staticml batch` (same package as "
        "the entry). If it raises, staticml falls back to the entry point row by row to find "
        "the rows at fault.",
    )
    dependencies: tuple[str, ...] = setting(
        requirements,
        [],
        "Extra pure-Python packages the preprocessing imports, each pinned with its version and "
        'hash, as in a pip requirements file: `["python-dateutil==2.9.0.post0 '
        '--hash=sha256:a8b2…0427", "six==1.17.0 --hash=sha256:4721…3274"]` (full 64-digit '
        "hashes; several `--hash=` options may follow one requirement). The packages they need "
        "must be listed too. The build downloads their `py3-none-any` wheels for Pyodide's "
        "Python (3.14) with `pip download --require-hashes` and ships them; a package without "
        "such a wheel fails the build, named. See [pinning "
        "dependencies](#pinning-browser-dependencies).",
        unset="none",
    )

    @property
    def package(self) -> str | None:
        return self.entry.package if self.entry is not None else None


@dataclass(frozen=True)
class SamplesSettings:
    """`[samples]`: the sample records shipped with reference predictions."""

    source: EntryPoint | None = setting(
        AppFunction(),
        None,
        "Build-time `module:function` returning sample records; the build ships them with "
        "reference predictions computed in CPython.",
    )
    file: Path | None = setting(
        AppFile(TABLE_SUFFIXES),
        None,
        "A CSV (one record per row, one column per field) or JSON file (a list of records, or "
        'of `{"name", "record"}`) of sample records, instead of `samples.source`.',
    )


@dataclass(frozen=True)
class PageSettings:
    """`[page]`: the page's HTML."""

    template: Path | None = setting(
        AppFile((".html",)),
        None,
        "A Jinja2 template in the app directory replacing staticml's "
        "[`index.html`](../index.html); it gets the same variables (`app`, `page`, `style`, "
        "`script`, `importmap`, `csp`, `modules`, `icon`, `staticml_version`). Keep "
        "`{{ csp }}` once, in `<head>` before any script, stylesheet or link (the page's own "
        "Content Security Policy, for hosts that send no headers), `{{ importmap }}` once, "
        "before any module script (the build refuses a page without either: the page's "
        "modules are found and checked through it), and the element ids the page script uses.",
        unset="staticml's",
    )


@dataclass(frozen=True)
class RuntimeSettings:
    """`[runtime]`: how the page starts its runtimes."""

    threads: int = setting(
        int_range(1, 16),
        1,
        "onnxruntime-web threads (needs COOP/COEP; `staticml serve` sends them).",
    )
    boot_timeout: float = setting(
        positive_seconds,
        60,
        "Seconds the page waits for the runtimes to start before showing an error.",
    )
    snapshot: bool = setting(
        boolean,
        True,
        "Ship a Pyodide memory snapshot made at build time (in headless Chromium) with "
        "staticml's runtime and the app's dependencies imported (the app's own package is "
        "imported at start, so one snapshot serves every app without dependencies and survives "
        "edits to the preprocessing): Python starts several times faster, for about 4.4 MB more "
        "to download on a first visit (see [bench/results.md](../bench/results.md) for the "
        "trade-off). The page falls back to a normal start when the snapshot cannot be used.",
    )


@dataclass(frozen=True)
class CompressSettings:
    """`[compress]`: which model variant the build ships (see `staticml.stages.compress`)."""

    mode: str = setting(
        compress_mode,
        "auto",
        "Which variant of the model ships (see [Compression](#compression-compress)): `auto`, "
        "`off` or a variant's name. `staticml build --compress` overrides it.",
    )
    budget: float = setting(
        non_negative,
        0.5,
        "Classifiers: the most accuracy a variant may lose against the original, in percentage "
        "points (without labels: the share of rows whose label changes).",
    )
    relative_budget: float = setting(
        non_negative,
        1.0,
        "Regressors: the most the mean absolute error may grow, in percent of the original's "
        "(without labels: the mean deviation from the original's predictions, in percent of "
        "their mean magnitude).",
    )
    eval: EntryPoint | None = setting(
        AppFunction(),
        None,
        'Build-time `module:function` returning held-out evaluation items, `[{"record": {...}, '
        '"label": ...}, ...]`. Labels are class values (or the displayed class names) or '
        "regression targets; leave them out to judge by agreement with the original.",
    )
    eval_file: Path | None = setting(
        AppFile(TABLE_SUFFIXES),
        None,
        'A CSV (one column per field plus the label column) or JSON file (a list of `{"record", '
        '"label"}`) of evaluation items, instead of `compress.eval`. Without either, the '
        "shipped samples are used, unlabelled.",
    )
    label: str = setting(string, "label", "The label column of a CSV `compress.eval_file`.")
    calibration: EntryPoint | None = setting(
        AppFunction(),
        None,
        'Build-time `module:function` returning records (or `{"record": ...}` items) to '
        "calibrate static int8 quantisation on; best taken from the training data.",
        unset="the evaluation records",
    )
    prune: tuple[float, ...] = setting(
        fractions,
        [0.5, 0.9],
        "Magnitude-pruning levels (whole percents): per level a variant `pruned-NN` with that "
        "share of each weight matrix's smallest weights set to zero, `pruned-NN-int8` and "
        "`pruned-NN-int8-static`, the same quantised to int8 dynamically and statically. `[]` "
        "makes none.",
    )
    trees: tuple[float, ...] = setting(
        fractions,
        [0.25, 0.5, 0.75],
        "Tree ensembles (whole percents): per share a variant `trees-NN` keeping the first NN% "
        "of the boosting rounds (of a forest: of its trees, reweighted). `[]` makes none.",
    )


@dataclass(frozen=True)
class BuildSettings:
    """`[build]`: how the build writes the site."""

    brotli_quality: int = setting(
        int_range(0, 11),
        11,
        "Brotli quality of the precompressed `.br` files (11 = smallest, slowest; cached).",
    )
    max_file_mib: int = setting(
        int_range(1),
        25,
        "Largest file the site may hold, in MiB (Cloudflare Pages refuses files over 25 MiB): "
        "the Python snapshot is split into parts under it, which the page fetches side by side "
        "and checks one by one; the build refuses any other file over it.",
    )
