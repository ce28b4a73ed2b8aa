"""Load and validate an app's `staticml.toml` once, into frozen dataclasses.

Settings are declared as data (`SETTINGS`, `FIELD_SETTINGS`) with their help text, so the
documentation and the validator cannot drift apart. Every problem in the file is reported at
once, each with the file, key and line, before any build work starts.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import ConfigError

CONFIG_FILE = "staticml.toml"
FIELD_TYPES = ("image",)

_REQUIRED = object()
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


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
class Field:
    name: str
    type: str
    label: str
    description: str
    canvas_size: int


@dataclass(frozen=True)
class ModelSettings:
    train: EntryPoint
    input_name: str
    n_features: int
    opset: int


@dataclass(frozen=True)
class RuntimeSettings:
    threads: int
    boot_timeout: float


@dataclass(frozen=True)
class AppConfig:
    """Everything a build needs to know about one app, validated."""

    app_dir: Path
    source: Path
    name: str
    title: str
    description: str
    model: ModelSettings
    preprocess: EntryPoint
    samples: EntryPoint | None
    fields: tuple[Field, ...]
    runtime: RuntimeSettings
    brotli_quality: int

    def runtime_spec(self) -> dict[str, Any]:
        """What `staticml.runtime.engine.Predictor` needs, in the browser and at build time."""
        return {
            "entry": str(self.preprocess),
            "n_features": self.model.n_features,
            "fields": [{"name": f.name, "type": f.type, "label": f.label} for f in self.fields],
        }


# --- value parsers: each returns the parsed value or raises ValueError(reason) ---------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_describe(value)}")
    return value


def _slug(value: Any) -> str:
    text = _string(value)
    if not _SLUG.match(text):
        raise ValueError(
            f"{text!r} is not a valid name: use lowercase letters, digits, '-' or '_', "
            "starting with a letter (at most 64 characters)"
        )
    return text


def _identifier(value: Any) -> str:
    text = _string(value)
    if not _IDENTIFIER.match(text):
        raise ValueError(f"{text!r} is not a valid identifier (letters, digits and '_')")
    return text


def _entry_point(value: Any) -> EntryPoint:
    text = _string(value)
    module, sep, function = text.partition(":")
    if not sep or not _DOTTED.match(module) or not _IDENTIFIER.match(function):
        raise ValueError(
            f"{text!r} is not a 'module:function' reference (for example 'digits.preprocess:features')"
        )
    return EntryPoint(module, function)


def _int_range(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_describe(value)}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a number {bound}, got {value}")
        return value

    return parse


def _positive_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"expected a positive number of seconds, got {_describe(value)}")
    return float(value)


def _field_type(value: Any) -> str:
    text = _string(value)
    if text not in FIELD_TYPES:
        raise ValueError(f"unknown field type {text!r}; supported types: {', '.join(FIELD_TYPES)}")
    return text


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, dict) else "a table"


@dataclass(frozen=True)
class Setting:
    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("app.name", _slug, _REQUIRED, "Short name of the app; names its wheel and bundle."),
    Setting("app.title", _string, None, "Title shown on the page (defaults to the name)."),
    Setting("app.description", _string, "", "One or two sentences shown under the title."),
    Setting(
        "model.train",
        _entry_point,
        _REQUIRED,
        "Build-time `module:function` in the app directory returning a fitted scikit-learn "
        "estimator; it is converted to ONNX with skl2onnx.",
    ),
    Setting("model.input_name", _identifier, "input", "Name of the ONNX model's input tensor."),
    Setting("model.n_features", _int_range(1), _REQUIRED, "Length of the feature vector."),
    Setting("model.opset", _int_range(9, 23), 17, "ONNX opset the model is converted to."),
    Setting(
        "preprocess.entry",
        _entry_point,
        _REQUIRED,
        "Pure-Python `module:function` that turns one record into the feature vector; its "
        "top-level package is shipped to the browser as a wheel.",
    ),
    Setting(
        "samples.source",
        _entry_point,
        None,
        "Build-time `module:function` returning sample records; the build ships them with "
        "reference predictions computed in CPython.",
    ),
    Setting("runtime.threads", _int_range(1, 16), 1, "onnxruntime-web threads (needs COOP/COEP)."),
    Setting(
        "runtime.boot_timeout",
        _positive_seconds,
        60.0,
        "Seconds the page waits for the runtimes to start before showing an error.",
    ),
    Setting(
        "build.brotli_quality",
        _int_range(0, 11),
        11,
        "Brotli quality of the precompressed `.br` files (11 = smallest, slowest; cached).",
    ),
)

FIELD_SETTINGS: tuple[Setting, ...] = (
    Setting("name", _identifier, _REQUIRED, "Key of the field in a record."),
    Setting("type", _field_type, _REQUIRED, f"One of: {', '.join(FIELD_TYPES)}."),
    Setting("label", _string, None, "Label shown in the page (defaults to the name)."),
    Setting("description", _string, "", "Help text shown with the field."),
    Setting(
        "canvas_size",
        _int_range(32, 1024),
        280,
        "Image fields: side of the drawing canvas in CSS pixels.",
    ),
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
    if problems:
        raise ConfigError(_format_problems(source, text, problems))
    return _assemble(app_dir, source, values, fields)


def _parse_table(
    data: Mapping[str, Any],
    settings: tuple[Setting, ...],
    prefix: str,
    problems: list[_Problem],
    skip: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    flat = dict(_flatten(data, skip))
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
            if setting.default is _REQUIRED:
                problems.append(
                    _Problem(prefix + setting.key, f"missing required setting ({setting.help})")
                )
            values[setting.key] = None if setting.default is _REQUIRED else setting.default
            continue
        try:
            values[setting.key] = setting.parse(flat[setting.key])
        except ValueError as exc:
            problems.append(_Problem(prefix + setting.key, str(exc)))
    return values


def _flatten(data: Mapping[str, Any], skip: set[str] | frozenset[str], prefix: str = ""):
    for key, value in data.items():
        if not prefix and key in skip:
            continue
        if isinstance(value, dict):
            yield from _flatten(value, skip, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _parse_fields(raw: Any, problems: list[_Problem]) -> list[dict[str, Any]]:
    if raw is None:
        problems.append(_Problem("input", "missing: declare at least one [[input]] field"))
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.append(
            _Problem("input", "must be an array of tables: write each field as [[input]]")
        )
        return []
    fields = [
        _parse_table(item, FIELD_SETTINGS, f"input[{i}].", problems) for i, item in enumerate(raw)
    ]
    names = [f["name"] for f in fields]
    for i, name in enumerate(names):
        if name is not None and names.index(name) != i:
            problems.append(_Problem(f"input[{i}].name", f"duplicate field name {name!r}"))
    return fields


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
            train=v["model.train"],
            input_name=v["model.input_name"],
            n_features=v["model.n_features"],
            opset=v["model.opset"],
        ),
        preprocess=v["preprocess.entry"],
        samples=v["samples.source"],
        fields=tuple(
            Field(
                name=f["name"],
                type=f["type"],
                label=f["label"] or f["name"],
                description=f["description"],
                canvas_size=f["canvas_size"],
            )
            for f in fields
        ),
        runtime=RuntimeSettings(
            threads=v["runtime.threads"], boot_timeout=v["runtime.boot_timeout"]
        ),
        brotli_quality=v["build.brotli_quality"],
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
            return None
    key_pattern = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("[") and header:
            break
        if key_pattern.match(lines[number]):
            return number + 1
    return start if header else None


def _header_for(tables: list[str]) -> tuple[str, int]:
    names = [t for t in tables if not t.startswith("[")]
    indexes = [int(t[1:-1]) for t in tables if t.startswith("[")]
    return ".".join(names), (indexes[-1] if indexes else 0)
