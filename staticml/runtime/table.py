"""Score a CSV file incrementally: text chunks in, feature batches out, CSV rows back.

The worker feeds the file's text as it streams in. Each `feed` parses the complete rows it
has (a quoted field may span lines and chunks), validates and preprocesses them, and returns
their features; `complete` takes the model's outputs for those rows and returns the output
CSV text: every input row, in order, with its prediction or the reason it has none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from staticml.runtime.contract import ShownOutput
from staticml.runtime.engine import Predictor, Prepared
from staticml.runtime.schema import RecordError

MAX_ERRORS_KEPT = 1000


class TableError(ValueError):
    """The file as a whole cannot be scored (no header, a required column missing, bad CSV)."""


@dataclass
class _Pending:
    rows: list[list[str]]
    numbers: list[int]
    prepared: Prepared


@dataclass
class Totals:
    rows: int = 0
    scored: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0


class CsvScorer:
    """One CSV scoring job. `output` is the worker config's `output`: the model's outputs and
    how they are shown (target, unit)."""

    def __init__(
        self,
        predictor: Predictor,
        output: ShownOutput,
        observer: Callable[..., None] | None = None,
    ) -> None:
        self.predictor = predictor
        self.output = output
        self.spec = output.spec
        self.observer = observer
        self.header: list[str] | None = None
        self.totals = Totals()
        self._buffer = ""
        self._pending: _Pending | None = None
        self._columns: dict[str, int] = {}
        self._header_written = False

    def feed(self, text: str, final: bool = False) -> Prepared:
        """Parse and prepare the complete rows now available; call `complete` before feeding again."""
        self._buffer += text
        cut = len(self._buffer) if final else _complete_rows_end(self._buffer)
        chunk, self._buffer = self._buffer[:cut], self._buffer[cut:]
        rows = self._parse(chunk)
        if self.header is None and rows:
            self._start(rows.pop(0))
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        numbers = list(range(self.totals.rows + 1, self.totals.rows + len(rows) + 1))
        self.totals.rows += len(rows)
        records = [self._record(row) for row in rows]
        prepared = self.predictor.features_for(records)
        self._pending = _Pending(rows, numbers, prepared)
        if final and self.header is None:
            raise TableError("the file is empty: a CSV needs a header row naming the fields")
        return prepared

    def complete(self, labels: Sequence[Any] | None, values: Sequence[float]) -> str:
        """Output CSV text for the pending rows, given the model's outputs for the valid ones.

        Classifiers pass `labels` (one per valid row) and `values` (their probabilities, row
        by row); regressors pass `labels=None` and one value per valid row.
        """
        assert self._pending is not None
        pending, self._pending = self._pending, None
        if self.header is None:
            return ""  # no complete row yet, not even the header
        prepared = pending.prepared
        width = self.spec.width if labels is not None else 1
        outputs = {
            row: (position, self._prediction(labels, values, position, width))
            for position, row in enumerate(prepared.rows)
        }
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not self._header_written:
            writer.writerow(self._output_header())
            self._header_written = True
        blank = [""] * (width + (1 if labels is not None else 0))
        for index, (row, number) in enumerate(zip(pending.rows, pending.numbers, strict=True)):
            padded = (row + [""] * len(self.header))[: len(self.header)]
            if index in outputs:
                position, prediction = outputs[index]
                writer.writerow([*padded, *prediction, ""])
                self.totals.scored += 1
                if self.observer is not None:
                    self._observe(prepared, position, prediction[0], values, width)
            else:
                message = prepared.errors[index]
                writer.writerow([*padded, *blank, message])
                self.totals.error_count += 1
                if len(self.totals.errors) < MAX_ERRORS_KEPT:
                    self.totals.errors.append((number, message))
        return buffer.getvalue()

    def _observe(
        self, prepared: Prepared, position: int, shown: str, values: Sequence[float], width: int
    ) -> None:
        """Count a row's prediction with the monitor: `observer(record, features, output,
        top-class probability or None)`."""
        assert self.observer is not None
        n = self.predictor.n_features
        features = prepared.features[position * n : (position + 1) * n]
        if not self.spec.classifies:
            self.observer(prepared.records[position], features, float(shown), None)
            return
        top = max(values[position * width : (position + 1) * width], default=None)
        self.observer(prepared.records[position], features, shown, top)

    def _prediction(
        self, labels: Sequence[Any] | None, values: Sequence[float], position: int, width: int
    ) -> list[str]:
        if labels is None:
            return [format_number(values[position])]
        probabilities = values[position * width : (position + 1) * width]
        return [self.spec.shown(labels[position]), *map(format_number, probabilities)]

    def _output_header(self) -> list[str]:
        assert self.header is not None
        return [*self.header, *output_columns(self.header, self.output)]

    def _parse(self, chunk: str) -> list[list[str]]:
        try:
            return list(csv.reader(io.StringIO(chunk, newline="")))
        except csv.Error as exc:
            raise TableError(
                f"the file is not valid CSV near row {self.totals.rows + 1}: {exc}"
            ) from exc

    def _start(self, header: list[str]) -> None:
        self.header = [name.strip() for name in header]
        self._columns = {name: i for i, name in enumerate(self.header)}
        check_header(self.predictor.fields, self.header)

    def _record(self, row: list[str]) -> Any:
        assert self.header is not None
        if len(row) != len(self.header):
            return RecordError(
                "", f"the row has {len(row)} values but the header has {len(self.header)} columns"
            )
        return {
            name: row[self._columns[name]] for name in self._field_names() if name in self._columns
        }

    def _field_names(self) -> list[str]:
        return [f["name"] for f in self.predictor.fields]


def _complete_rows_end(text: str) -> int:
    """Index just after the last newline that is outside quotes (0 if there is none)."""
    quotes = text.count('"')
    position = len(text)
    while True:
        newline = text.rfind("\n", 0, position)
        if newline < 0:
            return 0
        quotes -= text.count('"', newline + 1, position)
        if quotes % 2 == 0:
            return newline + 1
        position = newline


def check_header(fields: Sequence[Mapping[str, Any]], header: Sequence[str]) -> None:
    """TableError unless the header names every field a record cannot do without."""
    missing = [
        f["name"]
        for f in fields
        if f["name"] not in header and f.get("required", True) and f.get("default") is None
    ]
    if missing:
        raise TableError(
            f"the CSV has no column {', '.join(repr(m) for m in missing)}; its header must name "
            f"the fields {', '.join(repr(f['name']) for f in fields)} "
            f"(found: {', '.join(repr(h) for h in header) or 'nothing'})"
        )


def output_columns(header: Sequence[str], output: ShownOutput) -> list[str]:
    """Names of the columns added after the input's: the prediction, then `error`."""
    taken = set(header)
    if output.classifies:
        names = ["prediction", *(f"p_{c}" for c in output.spec.classes)]
    else:
        names = [output.target or "prediction"]
    return [_unique(name, taken) for name in [*names, "error"]]


def format_number(value: float) -> str:
    """How a predicted number is written in an output CSV."""
    return format(float(value), ".7g")


def _unique(name: str, taken: set[str]) -> str:
    candidate, suffix = name, 1
    while candidate in taken:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate
