"""Load and validate an app's `staticml.toml` once, into an `AppConfig`.

The settings are declared in `staticml.settings`. This module parses every value with its
declared parser, checks the rules that involve several settings or the app directory, and
reports every problem in the file at once, each with the file, key and line, before any build
work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import ConfigError
from staticml.settings import (
    FIELD_SETTINGS,
    SETTINGS,
    TABLES,
    AppConfig,
    EntryPoint,
    Field,
    Setting,
)
from staticml.settings.entry_points import entry_point_problem
from staticml.settings.lines import line_of, shown_key
from staticml.settings.parsers import (
    AppFile,
    AppFunction,
    compress_mode,
    unknown_pruning,
    unknown_trees,
)

__all__ = [
    "FIELD_SETTINGS",
    "SETTINGS",
    "AppConfig",
    "EntryPoint",
    "Field",
    "line_of",
    "load_config",
    "with_compress_mode",
]

CONFIG_FILE = "staticml.toml"
INPUT = "input"
"""The array of tables that declares the fields, `AppConfig.input`."""
_APP_FILES = tuple(setting.key for setting in SETTINGS if isinstance(setting.parse, AppFile))
"""The settings that name a file of the app directory: it must exist; the config has its path."""
_APP_FUNCTIONS = tuple(
    (setting.key, setting.parse.arguments)
    for setting in SETTINGS
    if isinstance(setting.parse, AppFunction)
)
"""The settings that name a function of the app, with the arguments staticml calls it with."""


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
    values = _parse_table(data, SETTINGS, "", problems, skip={INPUT})
    fields = _parse_fields(data.get(INPUT), problems)
    _check_app(values, app_dir, problems)
    _check_functions(values, app_dir, problems)
    if problems:
        raise ConfigError(_format_problems(source, text, problems, data.get(INPUT)))
    return _assemble(app_dir, source, text, values, fields)


def with_compress_mode(config: AppConfig, mode: str | None, browser: bool = True) -> AppConfig:
    """`config` with `compress.mode` overridden (the CLI's `--compress`)."""
    if mode is None:
        return config
    if not browser and mode != "off":
        raise ConfigError(
            f"--compress {mode} measures the model's variants in Chromium, which --no-browser "
            "rules out: drop one of them (--no-browser ships the model uncompressed)."
        )
    try:
        parsed = compress_mode(mode)
    except ValueError as exc:
        raise ConfigError(f"--compress: {exc}") from exc
    problem = unknown_pruning(parsed, config.compress.prune) or unknown_trees(
        parsed, config.compress.trees
    )
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
            if setting.required:
                problems.append(
                    _Problem(prefix + setting.key, f"missing required setting ({setting.help})")
                )
            values[setting.key] = setting.value_when_unset
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
    _check_daily_budget(values, problems)
    for key in _APP_FILES:
        if values[key] is not None and not (app_dir / values[key]).is_file():
            problems.append(_Problem(key, f"{app_dir / values[key]} does not exist"))
    if values["samples.source"] is not None and values["samples.file"] is not None:
        problems.append(_Problem("samples", "give samples.source or samples.file, not both"))
    if values["compress.eval"] is not None and values["compress.eval_file"] is not None:
        problems.append(_Problem("compress", "give compress.eval or compress.eval_file, not both"))
    mode, levels = values["compress.mode"], values["compress.prune"]
    problem = unknown_pruning(mode, levels) if mode and levels is not None else None
    shares = values["compress.trees"]
    problem = problem or (unknown_trees(mode, shares) if mode and shares is not None else None)
    if problem:
        problems.append(_Problem("compress.mode", problem))
    batch = values["preprocess.batch"]
    entry = values["preprocess.entry"]
    if batch is not None and entry is None:
        problems.append(
            _Problem(
                "preprocess.batch",
                "needs preprocess.entry (the function for one record, in the same package)",
            )
        )
    if batch is not None and entry is not None and batch.package != entry.package:
        problems.append(
            _Problem(
                "preprocess.batch",
                f"must be in the same package as preprocess.entry ({entry.package}), got {batch.module}",
            )
        )


def _check_daily_budget(values: dict[str, Any], problems: list[_Problem]) -> None:
    daily, epsilon = values["monitor.epsilon_per_day"], values["monitor.epsilon"]
    if daily is None:
        return
    if epsilon is None:
        problems.append(
            _Problem(
                "monitor.epsilon_per_day",
                "is a budget of local-DP noise: set monitor.epsilon too (the ε each summary "
                "costs), or remove monitor.epsilon_per_day",
            )
        )
    elif daily < epsilon:
        problems.append(
            _Problem(
                "monitor.epsilon_per_day",
                f"is {daily:g}, less than one summary's monitor.epsilon = {epsilon:g}, so the "
                "page could never send: raise it to at least monitor.epsilon",
            )
        )


def _check_functions(values: dict[str, Any], app_dir: Path, problems: list[_Problem]) -> None:
    """Each function the file names exists and takes staticml's arguments (read, not imported)."""
    for key, arguments in _APP_FUNCTIONS:
        if values[key] is not None:
            problem = entry_point_problem(values[key], arguments, app_dir)
            if problem:
                problems.append(_Problem(key, problem))


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
    app_dir: Path, source: Path, text: str, values: dict[str, Any], fields: list[dict[str, Any]]
) -> AppConfig:
    """The config from the parsed values: each table's dataclass from the keys under it."""
    for key in _APP_FILES:
        if values[key] is not None:
            values[key] = app_dir / values[key]
    tables = {
        name: cls(
            **{field.name: values[f"{name}.{field.name}"] for field in dataclasses.fields(cls)}
        )
        for name, cls in TABLES
    }
    return AppConfig(
        app_dir=app_dir,
        source=source,
        text=text,
        input=tuple(Field(**field) for field in fields),
        **tables,
    )


def _format_problems(source: Path, text: str, problems: list[_Problem], fields: Any) -> str:
    """The problems, each with its line; `fields` (the `[[input]]` tables) name their keys."""
    lines = [f"{source} has {len(problems)} problem(s):"]
    named = fields if isinstance(fields, list) else []
    for problem in problems:
        line = line_of(text, problem.key)
        where = f"{source.name}:{line}" if line else source.name
        lines.append(f"  {where}: {shown_key(problem.key, named)}: {problem.message}")
    return "\n".join(lines)
