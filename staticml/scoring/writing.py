"""Write scored chunks as they come: the output table (CSV or Parquet) and the errors file.

Files are written beside their destination and moved into place only when the job
completes, so a failed job never leaves a partial file that looks finished. A CSV output is
written as the page writes it (same columns, quoting and number format), so the browser and
batch scoring of the same CSV give the same file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from staticml.errors import ScoringError
from staticml.runtime.table import format_number
from staticml.scoring import OUTPUT_FORMATS

_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
ERRORS_HEADER = ("row", "error")


class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...


def output_format(path: Path, given: str | None) -> str:
    if given is not None:
        if given not in OUTPUT_FORMATS:
            raise ScoringError(
                f"unknown output format {given!r}: use one of {', '.join(OUTPUT_FORMATS)}."
            )
        return given
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ScoringError(
            f"cannot tell the output format from the name {path.name}: end it with .csv or "
            ".parquet, or give the format (--format csv|parquet)."
        ) from None


def default_errors_path(output: Path) -> Path:
    """`scored.csv` → `scored.errors.csv`."""
    return output.with_name(f"{output.stem}.errors.csv")


@contextmanager
def open_sink(path: Path, kind: str, schema: pa.Schema, numbers: Iterable[str]) -> Iterator[Sink]:
    """A writer of tables with `schema`; the CSV one writes columns `numbers` as the page does."""
    with _replaced(path) as partial:
        if kind == "parquet":
            with pq.ParquetWriter(partial, schema) as writer:
                yield _ParquetSink(writer, schema)
        else:
            with _text(partial) as text:
                yield _CsvSink(text, schema, frozenset(numbers))


@contextmanager
def open_errors(path: Path) -> Iterator[Any]:
    """A CSV writer for `row,error` lines, header written."""
    with _replaced(path) as partial, _text(partial) as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(ERRORS_HEADER)
        yield writer


class _ParquetSink:
    def __init__(self, writer: pq.ParquetWriter, schema: pa.Schema) -> None:
        self._writer = writer
        self._schema = schema

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(self._schema))


class _CsvSink:
    def __init__(self, text: TextIO, schema: pa.Schema, numbers: frozenset[str]) -> None:
        self._writer = csv.writer(text, lineterminator="\n")
        self._numbers = numbers
        self._writer.writerow(schema.names)

    def write(self, table: pa.Table) -> None:
        columns = [
            self._cells(name, column)
            for name, column in zip(table.column_names, table.columns, strict=True)
        ]
        self._writer.writerows(zip(*columns, strict=True))

    def _cells(self, name: str, column: pa.ChunkedArray) -> list[Any]:
        if name in self._numbers:
            return ["" if v is None else format_number(v) for v in column.to_pylist()]
        if pa.types.is_string(column.type):
            return column.fill_null("").to_pylist()
        try:
            return pc.cast(column, pa.string()).fill_null("").to_pylist()
        except pa.ArrowNotImplementedError:  # nested values: their Python text
            return ["" if v is None else str(v) for v in column.to_pylist()]


def _text(path: Path) -> TextIO:
    return path.open("w", encoding="utf-8", newline="")


@contextmanager
def _replaced(path: Path) -> Iterator[Path]:
    """A file to write that becomes `path` when the block completes, and disappears if it fails."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.touch()
    except OSError as exc:
        raise ScoringError(f"cannot write {path} ({exc}): check the folder exists.") from exc
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
