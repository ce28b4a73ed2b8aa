"""Read a CSV or Parquet file as chunks of a fixed number of rows, streaming.

Only the block being parsed and the chunk being cut are in memory. A CSV is read as the page
reads it: every value a string (the input schema converts), blank rows skipped and not
counted, and a row with the wrong number of values kept, in its place, with the page's reason.
Parquet values keep their types; every Parquet row counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from staticml.errors import ScoringError
from staticml.scoring.scorer import Chunk

CSV_BLOCK_BYTES = 1 << 20
PARQUET_MAGIC = b"PAR1"


class TableSource(Protocol):
    path: Path
    schema: pa.Schema
    total: int
    unit: str  # what `total` and `done()` count: "bytes" or "rows"

    def done(self) -> int: ...

    def pieces(self, rows: int) -> Iterator[Piece]: ...


@dataclass(frozen=True)
class Piece:
    table: pa.Table
    problems: dict[int, str] = field(default_factory=dict)

    def slice(self, offset: int, length: int) -> Piece:
        kept = {i - offset: m for i, m in self.problems.items() if offset <= i < offset + length}
        return Piece(self.table.slice(offset, length), kept)


def read_chunks(source: TableSource, rows: int) -> Iterator[Chunk]:
    """The source's rows in chunks of exactly `rows` (the last may be shorter)."""
    first = 1
    for index, piece in enumerate(_rechunked(source.pieces(rows), rows)):
        yield Chunk(index, first, piece.table, piece.problems)
        first += piece.table.num_rows


@contextmanager
def open_table(path: Path) -> Iterator[TableSource]:
    """A CSV or Parquet file (told apart by Parquet's magic bytes, not the name)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(PARQUET_MAGIC))
    except OSError as exc:
        raise ScoringError(f"the input {path} cannot be read ({exc}).") from exc
    if magic == PARQUET_MAGIC:
        with _ParquetSource.open(path) as parquet:
            yield parquet
    else:
        with _CsvSource.open(path) as text:
            yield text


class _ParquetSource:
    unit = "rows"

    def __init__(self, path: Path, file: pq.ParquetFile) -> None:
        self.path = path
        self._file = file
        self.schema = file.schema_arrow.remove_metadata()
        self.total = file.metadata.num_rows
        self._done = 0

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[_ParquetSource]:
        try:
            file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise ScoringError(f"the input {path} is not a readable Parquet file ({exc}).") from exc
        with file:
            yield cls(path, file)

    def done(self) -> int:
        return self._done

    def pieces(self, rows: int) -> Iterator[Piece]:
        for batch in self._file.iter_batches(batch_size=rows):
            self._done += batch.num_rows
            yield Piece(pa.Table.from_batches([batch]).replace_schema_metadata(None))


class _CsvSource:
    unit = "bytes"

    def __init__(self, path: Path, header: list[str], stream: pa.NativeFile) -> None:
        self.path = path
        self._header = header
        self._stream = stream
        self.schema = pa.schema([(name.strip(), pa.string()) for name in header])
        self.total = path.stat().st_size
        self._ragged = _RaggedRows(len(header))

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[_CsvSource]:
        header = _csv_header(path)
        with pa.OSFile(str(path)) as stream:
            yield cls(path, header, stream)

    def done(self) -> int:
        return int(self._stream.tell())

    def pieces(self, rows: int) -> Iterator[Piece]:
        options = {
            "read_options": pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
            "parse_options": pacsv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._ragged
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types={name: pa.string() for name in self._header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        }
        try:
            with pacsv.open_csv(self._stream, **options) as reader:
                yield from self._in_place(reader)
        except pa.ArrowInvalid as exc:
            raise ScoringError(f"the input {self.path} is not valid CSV: {exc}") from exc

    def _in_place(self, batches: Iterable[pa.RecordBatch]) -> Iterator[Piece]:
        """The parsed rows with the ragged ones put back where they were, blank rows left out.

        The parser skips a ragged row and reports its record number; with one parsing thread
        it reports it before it hands over any later row.
        """
        position = 0  # records after the header, blank and ragged ones included
        for batch in batches:
            table = pa.Table.from_batches([batch]).rename_columns(self.schema.names)
            offset = 0
            while offset < table.num_rows:
                while position in self._ragged.rows:
                    yield from self._ragged.piece(position, self.schema)
                    position += 1
                run = min(table.num_rows - offset, self._ragged.next_after(position) - position)
                yield _without_blank_rows(table.slice(offset, run))
                offset, position = offset + run, position + run
        while self._ragged.rows:
            yield from self._ragged.piece(min(self._ragged.rows), self.schema)


class _RaggedRows:
    """pyarrow's invalid-row handler: remembers each ragged row's cells by record position."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: dict[int, list[str]] = {}

    def __call__(self, row: Any) -> str:
        cells = next(csv.reader(io.StringIO(row.text, newline="")), [])
        self.rows[row.number - 2] = cells  # record 1 is the header
        return "skip"

    def next_after(self, position: int) -> int:
        return min((p for p in self.rows if p >= position), default=1 << 62)

    def piece(self, position: int, schema: pa.Schema) -> Iterator[Piece]:
        cells = self.rows.pop(position)
        if not any(cell.strip() for cell in cells):
            return
        padded = (cells + [""] * self.width)[: self.width]
        table = pa.Table.from_pylist([dict(zip(schema.names, padded, strict=True))], schema)
        reason = f"the row has {len(cells)} values but the header has {self.width} columns"
        yield Piece(table, {0: reason})


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScoringError(f"the input {path} cannot be read as UTF-8 CSV ({exc}).") from exc
    if not header:
        raise ScoringError(
            f"the input {path} is empty: a CSV needs a header row naming the fields."
        )
    return header


def _without_blank_rows(table: pa.Table) -> Piece:
    """Rows whose every cell is empty or whitespace are not rows (as on the page)."""
    blank = None
    for column in table.columns:
        empty = pc.equal(pc.utf8_trim_whitespace(column), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is not None and pc.any(blank).as_py():
        table = table.filter(pc.invert(blank))
    return Piece(table)


def _rechunked(pieces: Iterable[Piece], rows: int) -> Iterator[Piece]:
    buffered: list[Piece] = []
    count = 0
    for piece in pieces:
        offset = 0
        while offset < piece.table.num_rows:
            take = min(rows - count, piece.table.num_rows - offset)
            buffered.append(piece.slice(offset, take))
            offset, count = offset + take, count + take
            if count == rows:
                yield _joined(buffered)
                buffered, count = [], 0
    if count:
        yield _joined(buffered)


def _joined(pieces: list[Piece]) -> Piece:
    problems: dict[int, str] = {}
    offset = 0
    for piece in pieces:
        problems.update({offset + i: m for i, m in piece.problems.items()})
        offset += piece.table.num_rows
    return Piece(pa.concat_tables([p.table for p in pieces]).combine_chunks(), problems)
