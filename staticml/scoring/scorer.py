"""Score one chunk of rows with a bundle in CPython, as the page's worker scores a CSV chunk.

The records go through `staticml.runtime.engine.Predictor` (the code the browser runs: the
same validation, the app's batch entry point with its per-row fallback) imported from the
bundle's own wheels, and the features through the bundle's model in CPython onnxruntime.
One chunk is one model run, so a chunk's predictions do not depend on where it is scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime
import pyarrow as pa

from staticml.app_code import format_frames, packaged_frames
from staticml.cpython import model_feed, reference_session, wheels_on_path
from staticml.errors import ScoringError
from staticml.runtime.contract import OutputSpec, ShownOutput
from staticml.runtime.engine import Predictor, Prepared
from staticml.runtime.schema import RecordError
from staticml.runtime.table import output_columns
from staticml.scoring.bundle import Bundle, check_runtime

PREDICTION_FLOAT = pa.float32()


@dataclass(frozen=True)
class Chunk:
    """Rows `first_row`.. (1-based data rows) of the input, as read; `problems` are rows
    (0-based in the chunk) that could not be read as a record, with the reason."""

    index: int
    first_row: int
    table: pa.Table
    problems: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    """The chunk's rows with the prediction columns and `error`; `errors` as (row, reason)."""

    index: int
    table: pa.Table
    errors: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Scorer:
    predictor: Predictor
    session: onnxruntime.InferenceSession
    spec: OutputSpec
    output: ShownOutput


@contextmanager
def open_scorer(bundle: Bundle) -> Iterator[Scorer]:
    """The bundle's preprocessing imported from its wheels (forgotten on exit) and its model."""
    check_runtime(bundle)
    with wheels_on_path(bundle.wheels):
        try:
            predictor = Predictor(bundle.python)
        except (ImportError, AttributeError) as exc:
            raise ScoringError(
                f"bundle {bundle.directory}: its preprocessing ({bundle.python.entry}) "
                f"cannot be imported from its wheels ({type(exc).__name__}: {exc}); rebuild it."
            ) from exc
        yield Scorer(predictor, reference_session(bundle.model), bundle.spec, bundle.output)


def prediction_fields(header: Sequence[str], output: ShownOutput) -> list[pa.Field]:
    """The columns scoring adds after the input's, named as the page names them."""
    *predicted, error = output_columns(header, output)
    if output.classifies:
        label, *probabilities = predicted
        typed = [pa.field(label, pa.string())]
        typed += [pa.field(name, PREDICTION_FLOAT) for name in probabilities]
    else:
        typed = [pa.field(predicted[0], PREDICTION_FLOAT)]
    return [*typed, pa.field(error, pa.string())]


def score_chunk(scorer: Scorer, chunk: Chunk) -> Scored:
    table = chunk.table
    records = _records(table, scorer.predictor, chunk.problems)
    where = f"rows {chunk.first_row}-{chunk.first_row + table.num_rows - 1}"
    prepared = prepare(scorer.predictor, records, where)
    added = prediction_fields(table.column_names, scorer.output)
    rows = np.asarray(prepared.rows, dtype=np.int64)
    arrays = [
        _placed(values, rows, table.num_rows, added_field.type)
        for values, added_field in zip(_predict(scorer, prepared), added, strict=False)
    ]
    messages = [prepared.errors.get(i) for i in range(table.num_rows)]
    arrays.append(pa.array(messages, type=pa.string()))
    for added_field, array in zip(added, arrays, strict=True):
        table = table.append_column(added_field, array)
    errors = tuple((chunk.first_row + i, prepared.errors[i]) for i in sorted(prepared.errors))
    return Scored(chunk.index, table, errors)


def prepare(predictor: Predictor, records: Sequence[Any], where: str) -> Prepared:
    """`predictor.features_for(records)`; an exception the app's preprocessing raised (not a
    rejected record, which is an error of its row) is a ScoringError showing the app's frames.
    """
    try:
        return predictor.features_for(records)
    except Exception as exc:
        package = predictor.entry.partition(":")[0].split(".")[0]
        frames = packaged_frames(exc, package)
        if not frames:
            raise
        raise ScoringError(
            f"the bundle's preprocessing ({predictor.entry}) raised {type(exc).__name__}: {exc} "
            f"on {where}; fix it in the app and rebuild the bundle.{format_frames(frames, None)}"
        ) from exc


def _records(table: pa.Table, predictor: Predictor, problems: Mapping[int, str]) -> list[Any]:
    """One dict per row with the app's fields the table has; a row's problem instead, if any."""
    names = [f["name"] for f in predictor.fields if f["name"] in table.column_names]
    columns = [table.column(name).to_pylist() for name in names]
    records: list[Any] = [{} for _ in range(table.num_rows)]
    if names:
        records = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    for index, message in problems.items():
        records[index] = RecordError("", message)
    return records


def _predict(scorer: Scorer, prepared: Prepared) -> list[np.ndarray]:
    """The model's outputs for the prepared rows: [labels, p per class...] or [values]."""
    spec = scorer.spec
    if not prepared.rows:
        empty = np.zeros(0, dtype=np.float32)
        return [np.zeros(0, dtype=object), *[empty] * spec.width] if spec.classifies else [empty]
    labels, values = spec.split(scorer.session.run(spec.fetches(), model_feed(spec, prepared)))
    scores = np.asarray(values, dtype=np.float32).reshape(len(prepared.rows), spec.width)
    if labels is None:
        return [scores[:, 0]]
    return [np.asarray(spec.labels(labels), dtype=object), *scores.T]


def _placed(values: np.ndarray, rows: np.ndarray, length: int, kind: pa.DataType) -> pa.Array:
    """`values` at positions `rows` of a column of `length`, null elsewhere (rows in error)."""
    missing = np.ones(length, dtype=bool)
    missing[rows] = False
    if pa.types.is_string(kind):
        full = np.full(length, None, dtype=object)
        full[rows] = values
        return pa.array(full, type=kind, from_pandas=False)
    numbers = np.zeros(length, dtype=np.float32)
    numbers[rows] = values
    return pa.array(numbers, type=kind, mask=missing)
