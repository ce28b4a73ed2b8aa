"""The records an app names in its configuration: samples, evaluation items, labelled files.

Samples (`samples.source` or `samples.file`) are `Named` records; evaluation items
(`compress.eval` or `compress.eval_file`, and retraining's labelled data) are
`{'name', 'record', 'label', 'where'}` dicts. The build reads them, and so does the learning loop.
Each one keeps where it was written (`where`: `eval.csv:3`, the line in the file, the CSV header
being line 1; or `item 3` of an app function's list), for the errors about it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, NamedTuple

from staticml.app_code import call, isolated_imports
from staticml.config import AppConfig
from staticml.errors import BuildError


class Named(NamedTuple):
    """A record, the name the page shows it by, and where it was written (`samples.csv:3`)."""

    name: str
    record: dict[str, Any]
    where: str


def load_samples(config: AppConfig) -> list[Named]:
    """The samples from `samples.source` or `samples.file`; none if neither is set."""
    if config.samples.source is not None:
        with isolated_imports(config.app_dir):
            raw = call(config.samples.source, "samples.source", config.app_dir)
        return checked_records(raw, samples_origin(config))
    if config.samples.file is not None:
        path = config.samples.file
        return checked_records(
            named_records_from_file(path, "samples.file", "sample"), samples_origin(config)
        )
    return []


def samples_origin(config: AppConfig) -> str:
    """The setting the samples come from, as errors about them name it."""
    if config.samples.source is not None:
        return f"samples.source = '{config.samples.source}'"
    return f"samples.file {config.samples.file}"


def named_records_from_file(path: Path, setting: str, noun: str = "record") -> list[dict[str, Any]]:
    """`{"name", "record", "where"}` items from a CSV (a record per row) or a JSON file (a list
    of records, or of `{"name", "record"}`)."""
    if path.suffix.lower() == ".csv":
        return [
            {"name": f"row {i + 1}", "record": row, "where": f"{path.name}:{line}"}
            for i, (line, row) in enumerate(csv_rows(path))
        ]
    raw, lines = json_list(path, f"{setting} {path}")
    if isinstance(raw, list) and all(isinstance(r, dict) and "record" not in r for r in raw):
        raw = [{"name": f"{noun} {i + 1}", "record": r} for i, r in enumerate(raw)]
    return _placed(raw, path, lines)


def csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Each row of a CSV file by column, with the line it starts on (the header is line 1).

    A row short of values has None for the missing ones; blank lines are skipped.
    """
    reader = csv.reader(io.StringIO(utf8_text(path), newline=""))
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        header = next(reader, [])
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return rows
            if row:
                values = row + [None] * (len(header) - len(row))
                rows.append((start, dict(zip(header, values, strict=False))))
    except csv.Error as exc:
        raise BuildError(f"{path}:{reader.line_num}: not readable as CSV: {exc}.") from exc


def utf8_text(path: Path) -> str:
    """The file's text; a BuildError with the line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BuildError(
            f"{path}:{line}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8."
        ) from exc


def json_list(path: Path, where: str) -> tuple[Any, list[int]]:
    """The JSON value in `path` and, when it is a list, the line each item starts on."""
    text = utf8_text(path)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise BuildError(f"{where} is not valid JSON: {exc}") from exc
    return raw, (_item_lines(text) if isinstance(raw, list) else [])


def _item_lines(text: str) -> list[int]:
    """The line on which each item of the JSON array `text` (known to be valid) starts."""
    decoder = json.JSONDecoder()
    position = _skip_blank(text, _skip_blank(text, 0) + 1)  # past "["
    lines: list[int] = []
    line, counted = 1, 0
    while text[position] != "]":
        line, counted = line + text.count("\n", counted, position), position
        lines.append(line)
        _, position = decoder.raw_decode(text, position)
        position = _skip_blank(text, position)
        if text[position] == ",":
            position = _skip_blank(text, position + 1)
    return lines


def _skip_blank(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\n\r":
        position += 1
    return position


def _placed(raw: Any, path: Path, lines: list[int]) -> Any:
    """The items of a file's list, each with its `where` (`file.json:12`)."""
    if not isinstance(raw, list):
        return raw
    return [
        {**item, "where": f"{path.name}:{line}"} if isinstance(item, dict) else item
        for item, line in zip(raw, lines, strict=True)
    ]


def checked_records(raw: Any, where: str) -> list[Named]:
    """The `{'name', 'record'}` items of `raw` (from `where`) as `Named` records."""
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
        place = str(item.get("where") or _listed_place(index, item))
        try:
            json.dumps(item["record"])
        except (TypeError, ValueError) as exc:
            raise BuildError(f"{where}: {place} is not JSON-serialisable: {exc}") from exc
        named.append(Named(name, item["record"], place))
    return named


def _listed_place(index: int, item: dict[str, Any]) -> str:
    """Where an item of an app function's list is: its number, and its name if it has one."""
    name = item.get("name")
    return f"item {index + 1}" + (f" ({name!r})" if name else "")


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
    return "the shipped samples (unlabelled)", [
        {"name": s.name, "record": s.record, "where": s.where} for s in samples
    ]


def evaluation_origin(config: AppConfig, source: str) -> str:
    """The evaluation items' `source` as errors name it: with the file's whole path."""
    file = config.compress.eval_file
    return (
        f"compress.eval_file {file}"
        if file is not None and config.compress.eval is None
        else source
    )


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
    return {"where": _listed_place(index, item), **item}


def labelled_items(path: Path, label: str, where: str) -> list[dict[str, Any]]:
    """`{'name', 'record', 'label'}` items from a JSON list of such items or a CSV file whose
    `label` column holds the labels (`where` names the source in error messages)."""
    if path.suffix.lower() == ".json":
        raw, lines = json_list(path, where)
        if not isinstance(raw, list):
            raise BuildError(f"{where} must hold a list of {{'record', 'label'}} items.")
        return [_item(item, where, i) for i, item in enumerate(_placed(raw, path, lines))]
    rows = csv_rows(path)
    if rows and label not in rows[0][1]:
        raise BuildError(
            f"{where} has no label column {label!r} (columns: {', '.join(rows[0][1])}); "
            "set compress.label to the column holding the labels."
        )
    return [
        {
            "name": f"row {i + 1}",
            "record": {k: v for k, v in row.items() if k != label},
            "label": row[label],
            "where": f"{path.name}:{line}",
        }
        for i, (line, row) in enumerate(rows)
    ]
