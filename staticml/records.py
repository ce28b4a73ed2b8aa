"""The records an app names in its configuration: samples, evaluation items, labelled files.

Samples (`samples.source` or `samples.file`) are `(name, record)` pairs; evaluation items
(`compress.eval` or `compress.eval_file`, and retraining's labelled data) are
`{'name', 'record', 'label'}` dicts. The build reads them, and so does the learning loop.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from staticml.app_code import call, isolated_imports
from staticml.config import AppConfig
from staticml.errors import BuildError


def load_samples(config: AppConfig) -> list[tuple[str, dict[str, Any]]]:
    """(name, record) pairs from `samples.source` or `samples.file`; none if neither is set."""
    if config.samples.source is not None:
        with isolated_imports(config.app_dir):
            raw = call(config.samples.source, "samples.source", config.app_dir)
        return _checked_samples(raw, f"samples.source = '{config.samples.source}'")
    if config.samples.file is not None:
        return _samples_from_file(config.samples.file)
    return []


def _samples_from_file(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return _checked_samples(
        named_records_from_file(path, "samples.file", "sample"), f"samples.file {path.name}"
    )


def named_records_from_file(path: Path, setting: str, noun: str = "record") -> list[dict[str, Any]]:
    """`{"name", "record"}` items from a CSV (a record per row) or a JSON file (a list of
    records, or of `{"name", "record"}`)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [
            {"name": f"row {i + 1}", "record": {k: v for k, v in row.items() if k is not None}}
            for i, row in enumerate(rows)
        ]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BuildError(f"{setting} {path.name} is not valid JSON: {exc}") from exc
    if isinstance(raw, list) and all(isinstance(r, dict) and "record" not in r for r in raw):
        return [{"name": f"{noun} {i + 1}", "record": r} for i, r in enumerate(raw)]
    return raw


def checked_records(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    return _checked_samples(raw, where)


def _checked_samples(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(raw, list | tuple):
        raise BuildError(
            f"{where} must give a list of {{'name': str, 'record': dict}}, got {type(raw).__name__}"
        )
    named = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
            raise BuildError(
                f"{where}: sample {index} must be {{'name': str, 'record': dict}}, got {item!r:.80}"
            )
        name = str(item.get("name") or f"sample {index + 1}")
        try:
            json.dumps(item["record"])
        except (TypeError, ValueError) as exc:
            raise BuildError(f"{where}: sample {name!r} is not JSON-serialisable: {exc}") from exc
        named.append((name, item["record"]))
    return named


def evaluation_items(config: AppConfig) -> tuple[str, list[dict[str, Any]]]:
    settings = config.compress
    if settings.eval is not None:
        where = f"compress.eval = '{settings.eval}'"
        raw = listed_by(config, settings.eval, "compress.eval")
        return where, [_item(item, where, i) for i, item in enumerate(raw)]
    if settings.eval_file is not None:
        where = f"compress.eval_file {settings.eval_file.name}"
        return where, labelled_items(settings.eval_file, settings.label, where)
    samples = load_samples(config)
    return "the shipped samples (unlabelled)", [{"name": n, "record": r} for n, r in samples]


def listed_by(config: AppConfig, entry: Any, setting: str) -> list[Any]:
    """The list the app's function `entry` (named by `setting`) returns."""
    with isolated_imports(config.app_dir):
        raw = call(entry, setting, config.app_dir)
    if not isinstance(raw, list | tuple):
        raise BuildError(f"{setting} = '{entry}' must return a list, got {type(raw).__name__}.")
    return list(raw)


def _item(item: Any, where: str, index: int) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
        raise BuildError(
            f"{where}: item {index} must be {{'record': dict, 'label': value}}, got {item!r:.80}"
        )
    return item


def labelled_items(path: Path, label: str, where: str) -> list[dict[str, Any]]:
    """`{'name', 'record', 'label'}` items from a JSON list of such items or a CSV file whose
    `label` column holds the labels (`where` names the source in error messages)."""
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BuildError(f"{where} is not valid JSON: {exc}") from exc
        if not isinstance(raw, list):
            raise BuildError(f"{where} must hold a list of {{'record', 'label'}} items.")
        return [_item(item, where, i) for i, item in enumerate(raw)]
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and label not in rows[0]:
        raise BuildError(
            f"{where} has no label column {label!r} (columns: {', '.join(rows[0])}); "
            "set compress.label to the column holding the labels."
        )
    return [
        {
            "name": f"row {i + 1}",
            "record": {k: v for k, v in row.items() if k not in (label, None)},
            "label": row[label],
        }
        for i, row in enumerate(rows)
    ]
