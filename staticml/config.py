"""Load and validate an app's `staticml.toml` once, into frozen dataclasses.

The settings themselves are declared in `staticml.settings`. Every problem in the file is
reported at once, each with the file, key and line, before any build work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import ConfigError
from staticml.runtime.contract import PredictSpec
from staticml.settings import (
    FIELD_SETTINGS,
    REQUIRED,
    SETTINGS,
    EntryPoint,
    Setting,
    compress_mode,
    unknown_pruning,
)

__all__ = ["FIELD_SETTINGS", "SETTINGS", "AppConfig", "EntryPoint", "Field", "load_config"]

CONFIG_FILE = "staticml.toml"


@dataclass(frozen=True)
class Field:
    """One input field: its type, its constraints and how the page labels it."""

    name: str
    type: str
    label: str
    description: str
    required: bool
    default: Any
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...] | None
    max_length: int
    canvas_size: int

    def spec(self) -> dict[str, Any]:
        """The field as the browser runtime's validator and the page's form see it."""
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "required": self.required,
            "default": self.default,
            "min": self.minimum,
            "max": self.maximum,
            "choices": list(self.choices) if self.choices is not None else None,
            "maxLength": self.max_length,
            "canvasSize": self.canvas_size,
        }


@dataclass(frozen=True)
class ModelSettings:
    file: Path | None
    train: EntryPoint | None
    input_name: str | None
    n_features: int | None
    opset: int
    label_output: str | None
    probabilities_output: str | None
    value_output: str | None
    training_data: EntryPoint | None


@dataclass(frozen=True)
class OutputSettings:
    kind: str | None
    classes: tuple[str, ...] | None
    target: str
    unit: str


@dataclass(frozen=True)
class PreprocessSettings:
    entry: EntryPoint
    batch: EntryPoint | None
    dependencies: tuple[str, ...]

    @property
    def package(self) -> str:
        return self.entry.package


@dataclass(frozen=True)
class MonitorSettings:
    collector: str | None
    reference: EntryPoint | None
    reference_file: Path | None
    min_predictions: int
    interval_minutes: float
    epsilon: float | None
    bins: int

    @property
    def has_reference(self) -> bool:
        return self.reference is not None or self.reference_file is not None


@dataclass(frozen=True)
class CompressSettings:
    """How the build picks the model variant it ships (see `staticml.stages.compress`)."""

    mode: str
    budget: float
    relative_budget: float
    eval: EntryPoint | None
    eval_file: Path | None
    label: str
    calibration: EntryPoint | None
    prune: tuple[float, ...]


@dataclass(frozen=True)
class RetrainSettings:
    """How `staticml retrain` trains and judges a candidate, and when `staticml watch` acts."""

    stateless: EntryPoint | None
    stateful: EntryPoint | None
    budget: float
    relative_budget: float
    holdout: float
    trigger: tuple[str, ...]
    window: str
    canary_percent: float
    min_predictions: int
    min_agreement: float


@dataclass(frozen=True)
class RuntimeSettings:
    threads: int
    boot_timeout: float
    snapshot: bool


@dataclass(frozen=True)
class AppConfig:
    """Everything a build needs to know about one app, validated."""

    app_dir: Path
    source: Path
    name: str
    title: str
    description: str
    model: ModelSettings
    output: OutputSettings
    preprocess: PreprocessSettings
    samples: EntryPoint | None
    samples_file: Path | None
    fields: tuple[Field, ...]
    page_template: Path | None
    monitor: MonitorSettings
    runtime: RuntimeSettings
    brotli_quality: int
    compress: CompressSettings
    retrain: RetrainSettings

    def runtime_spec(self, n_features: int) -> PredictSpec:
        """What `staticml.runtime.engine.Predictor` needs, in the browser and at build time."""
        return PredictSpec(
            entry=str(self.preprocess.entry),
            batch=str(self.preprocess.batch) if self.preprocess.batch else None,
            n_features=n_features,
            fields=tuple(f.spec() for f in self.fields),
        )


@dataclass(frozen=True)
class _Problem:
    key: str
    message: str


def load_config(app_dir: Path | str) -> AppConfig:
    """Read `APP_DIR/staticml.toml`, validate every setting, and return the config."""
    app_dir = Path(app_dir).resolve()
    source = app_dir / CONFIG_FILE
    if not app_dir.is_dir():
        raise ConfigError(f"App directory {app_dir} does not exist.")
    if not source.is_file():
        raise ConfigError(
            f"{source} not found: an app directory needs a {CONFIG_FILE} "
            "(see docs/configuration.md, or app/staticml.toml for an example)."
        )
    text = source.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{source}: invalid TOML: {exc}. Fix the syntax and build again."
        ) from exc

    problems: list[_Problem] = []
    values = _parse_table(data, SETTINGS, "", problems, skip={"input"})
    fields = _parse_fields(data.get("input"), problems)
    _check_app(values, app_dir, problems)
    if problems:
        raise ConfigError(_format_problems(source, text, problems))
    return _assemble(app_dir, source, values, fields)


def with_compress_mode(config: AppConfig, mode: str | None) -> AppConfig:
    """`config` with `compress.mode` overridden (the CLI's `--compress`)."""
    if mode is None:
        return config
    try:
        parsed = compress_mode(mode)
    except ValueError as exc:
        raise ConfigError(f"--compress: {exc}") from exc
    problem = unknown_pruning(parsed, config.compress.prune)
    if problem:
        raise ConfigError(f"--compress: {problem} in {config.source}.")
    return dataclasses.replace(config, compress=dataclasses.replace(config.compress, mode=parsed))


def _parse_table(
    data: Mapping[str, Any],
    settings: tuple[Setting, ...],
    prefix: str,
    problems: list[_Problem],
    skip: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    flat = dict(_flatten(data, skip, {s.key for s in settings}))
    known = {s.key for s in settings}
    for key in flat.keys() - known:
        hint = difflib.get_close_matches(key, known, n=1)
        suggestion = (
            f"; did you mean '{prefix}{hint[0]}'?"
            if hint
            else f"; known keys: {', '.join(sorted(known))}"
        )
        problems.append(_Problem(prefix + key, f"unknown setting{suggestion}"))
    values: dict[str, Any] = {}
    for setting in settings:
        if setting.key not in flat:
            if setting.default is REQUIRED:
                problems.append(
                    _Problem(prefix + setting.key, f"missing required setting ({setting.help})")
                )
            values[setting.key] = None if setting.default is REQUIRED else setting.default
            continue
        try:
            values[setting.key] = setting.parse(flat[setting.key])
        except ValueError as exc:
            problems.append(_Problem(prefix + setting.key, str(exc)))
            values[setting.key] = None
    return values


def _flatten(
    data: Mapping[str, Any], skip: set[str] | frozenset[str], known: set[str], prefix: str = ""
):
    for key, value in data.items():
        if not prefix and key in skip:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in known:
            yield from _flatten(value, skip, known, f"{path}.")
        else:
            yield path, value


def _check_app(values: dict[str, Any], app_dir: Path, problems: list[_Problem]) -> None:
    """Rules that involve several settings or the app directory's files."""
    if (values["model.file"] is None) == (values["model.train"] is None):
        problems.append(
            _Problem("model", "give exactly one of model.file (a saved model) and model.train")
        )
    if values["monitor.reference"] is not None and values["monitor.reference_file"] is not None:
        problems.append(
            _Problem("monitor", "give monitor.reference or monitor.reference_file, not both")
        )
    elif values["monitor.collector"] and not (
        values["monitor.reference"] or values["monitor.reference_file"]
    ):
        problems.append(
            _Problem(
                "monitor.collector",
                "monitoring needs a baseline: set monitor.reference (a function returning the "
                "training records) or monitor.reference_file",
            )
        )
    for key in (
        "model.file",
        "samples.file",
        "page.template",
        "monitor.reference_file",
        "compress.eval_file",
    ):
        if values[key] is not None and not (app_dir / values[key]).is_file():
            problems.append(_Problem(key, f"{app_dir / values[key]} does not exist"))
    if values["samples.source"] is not None and values["samples.file"] is not None:
        problems.append(_Problem("samples", "give samples.source or samples.file, not both"))
    if values["compress.eval"] is not None and values["compress.eval_file"] is not None:
        problems.append(_Problem("compress", "give compress.eval or compress.eval_file, not both"))
    mode, levels = values["compress.mode"], values["compress.prune"]
    problem = unknown_pruning(mode, levels) if mode and levels is not None else None
    if problem:
        problems.append(_Problem("compress.mode", problem))
    batch = values["preprocess.batch"]
    entry = values["preprocess.entry"]
    if batch is not None and entry is not None and batch.package != entry.package:
        problems.append(
            _Problem(
                "preprocess.batch",
                f"must be in the same package as preprocess.entry ({entry.package}), got {batch.module}",
            )
        )


def _parse_fields(raw: Any, problems: list[_Problem]) -> list[dict[str, Any]]:
    if raw is None:
        problems.append(_Problem("input", "missing: declare at least one [[input]] field"))
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.append(
            _Problem("input", "must be an array of tables: write each field as [[input]]")
        )
        return []
    fields = []
    for i, item in enumerate(raw):
        field = _parse_table(item, FIELD_SETTINGS, f"input[{i}].", problems)
        _check_field(field, f"input[{i}].", item, problems)
        fields.append(field)
    names = [f["name"] for f in fields]
    for i, name in enumerate(names):
        if name is not None and names.index(name) != i:
            problems.append(_Problem(f"input[{i}].name", f"duplicate field name {name!r}"))
    return fields


_TYPE_KEYS = {
    "min": ("number", "integer"),
    "max": ("number", "integer"),
    "choices": ("category",),
    "max_length": ("text",),
    "canvas_size": ("image",),
}


def _check_field(
    field: dict[str, Any], prefix: str, given: Mapping[str, Any], problems: list[_Problem]
) -> None:
    kind = field["type"]
    if kind is None:
        return
    for key, kinds in _TYPE_KEYS.items():
        if key in given and kind not in kinds:
            problems.append(
                _Problem(prefix + key, f"only applies to {' and '.join(kinds)} fields, not {kind}")
            )
    if kind == "category" and not field["choices"]:
        problems.append(_Problem(prefix + "choices", "a category field needs its list of choices"))
    low, high = field["min"], field["max"]
    if low is not None and high is not None and low > high:
        problems.append(_Problem(prefix + "max", f"is {high}, below min {low}"))
    if "default" in given and (kind != "category" or field["choices"]):
        if kind == "image":
            problems.append(_Problem(prefix + "default", "image fields cannot have a default"))
            return
        from staticml.runtime.schema import RecordError, check_value

        spec = {**field, "maxLength": field["max_length"], "label": field["name"]}
        try:
            field["default"] = check_value(field["name"] or "field", spec, given["default"])
        except RecordError as exc:
            problems.append(_Problem(prefix + "default", exc.message))


def _assemble(
    app_dir: Path, source: Path, v: dict[str, Any], fields: list[dict[str, Any]]
) -> AppConfig:
    return AppConfig(
        app_dir=app_dir,
        source=source,
        name=v["app.name"],
        title=v["app.title"] or v["app.name"],
        description=v["app.description"],
        model=ModelSettings(
            file=_in_app(app_dir, v["model.file"]),
            train=v["model.train"],
            input_name=v["model.input_name"],
            n_features=v["model.n_features"],
            opset=v["model.opset"],
            label_output=v["model.label_output"],
            probabilities_output=v["model.probabilities_output"],
            value_output=v["model.value_output"],
            training_data=v["model.training_data"],
        ),
        output=OutputSettings(
            kind=v["output.kind"],
            classes=v["output.classes"],
            target=v["output.target"],
            unit=v["output.unit"],
        ),
        preprocess=PreprocessSettings(
            entry=v["preprocess.entry"],
            batch=v["preprocess.batch"],
            dependencies=v["preprocess.dependencies"],
        ),
        samples=v["samples.source"],
        samples_file=_in_app(app_dir, v["samples.file"]),
        fields=tuple(_field(f) for f in fields),
        page_template=_in_app(app_dir, v["page.template"]),
        monitor=MonitorSettings(
            collector=v["monitor.collector"],
            reference=v["monitor.reference"],
            reference_file=_in_app(app_dir, v["monitor.reference_file"]),
            min_predictions=v["monitor.min_predictions"],
            interval_minutes=v["monitor.interval_minutes"],
            epsilon=v["monitor.epsilon"],
            bins=v["monitor.bins"],
        ),
        runtime=RuntimeSettings(
            threads=v["runtime.threads"],
            boot_timeout=v["runtime.boot_timeout"],
            snapshot=v["runtime.snapshot"],
        ),
        brotli_quality=v["build.brotli_quality"],
        compress=CompressSettings(
            mode=v["compress.mode"],
            budget=v["compress.budget"],
            relative_budget=v["compress.relative_budget"],
            eval=v["compress.eval"],
            eval_file=_in_app(app_dir, v["compress.eval_file"]),
            label=v["compress.label"],
            calibration=v["compress.calibration"],
            prune=v["compress.prune"],
        ),
        retrain=RetrainSettings(
            stateless=v["train.stateless"],
            stateful=v["train.stateful"],
            budget=v["retrain.budget"],
            relative_budget=v["retrain.relative_budget"],
            holdout=v["retrain.holdout"],
            trigger=v["retrain.trigger"],
            window=v["retrain.window"],
            canary_percent=v["retrain.canary_percent"],
            min_predictions=v["retrain.min_predictions"],
            min_agreement=v["retrain.min_agreement"],
        ),
    )


def _in_app(app_dir: Path, relative: str | None) -> Path | None:
    return app_dir / relative if relative else None


def _field(f: dict[str, Any]) -> Field:
    has_default = f["default"] is not None
    return Field(
        name=f["name"],
        type=f["type"],
        label=f["label"] or f["name"],
        description=f["description"],
        required=f["required"] and not has_default,
        default=f["default"],
        minimum=f["min"],
        maximum=f["max"],
        choices=f["choices"],
        max_length=f["max_length"],
        canvas_size=f["canvas_size"],
    )


def _format_problems(source: Path, text: str, problems: list[_Problem]) -> str:
    lines = [f"{source} has {len(problems)} problem(s):"]
    for problem in problems:
        line = line_of(text, problem.key)
        where = f"{source.name}:{line}" if line else source.name
        lines.append(f"  {where}: {problem.key}: {problem.message}")
    return "\n".join(lines)


def line_of(text: str, key: str) -> int | None:
    """Best-effort line number of a dotted key such as `model.train` or `input[1].type`."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    *tables, leaf = parts
    header, index = _header_for(tables)
    lines = text.splitlines()
    start = 0
    if header:
        seen = -1
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
        for number, line in enumerate(lines):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    start = number + 1
                    break
        else:
            return _table_line(lines, leaf)
    key_pattern = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("[") and header:
            break
        if key_pattern.match(lines[number]):
            return number + 1
    return start if header else _table_line(lines, leaf)


def _table_line(lines: list[str], name: str) -> int | None:
    pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?")
    return next((n + 1 for n, line in enumerate(lines) if pattern.match(line)), None)


def _header_for(tables: list[str]) -> tuple[str, int]:
    names = [t for t in tables if not t.startswith("[")]
    indexes = [int(t[1:-1]) for t in tables if t.startswith("[")]
    return ".".join(names), (indexes[-1] if indexes else 0)
