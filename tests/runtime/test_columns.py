"""A model taking the record's fields: records become one column per model input, in CPython
exactly as in the page's worker (the same module runs in both)."""

from __future__ import annotations

import dataclasses
import json
import math
from array import array

from staticml.runtime import worker
from staticml.runtime.columns import Columns, ModelInput, row_of
from staticml.runtime.contract import PredictSpec, ShownOutput
from staticml.runtime.engine import Predictor
from staticml.runtime.prediction import OutputSpec
from staticml.runtime.schema import RecordError
from staticml.runtime.table import CsvScorer

FIELDS = (
    {"name": "age", "type": "number", "required": False},
    {"name": "plan", "type": "category", "choices": ["basic", "pro"], "required": False},
    {"name": "seats", "type": "category", "choices": ["1", "2"]},
)
INPUTS = (ModelInput("age", "float"), ModelInput("plan", "string"), ModelInput("seats", "float"))
SPEC = PredictSpec(entry=None, n_features=3, fields=FIELDS, inputs=INPUTS)


def test_a_missing_number_is_nan_and_a_missing_category_is_empty_text():
    [age, plan, seats] = row_of({"age": None, "plan": None, "seats": "2"}, INPUTS)
    assert math.isnan(age) and plan == "" and seats == 2.0
    assert row_of({"age": 3, "plan": "pro", "seats": "1"}, INPUTS) == [3.0, "pro", 1.0]


def test_records_become_columns_and_a_bad_record_its_error():
    prepared = Predictor(SPEC).features_for(
        [{"age": 30.5, "plan": "pro", "seats": "1"}, {"seats": "3"}, {"seats": "2"}]
    )
    assert prepared.rows == [0, 2] and list(prepared.errors) == [1]
    assert isinstance(prepared.failures[1], RecordError)
    columns = prepared.columns
    assert isinstance(columns, Columns) and columns.rows == 2
    [ages, plans, seats] = columns.data
    assert isinstance(ages, array) and ages.typecode == "f"
    assert ages[0] == 30.5 and math.isnan(ages[1])
    assert plans == ["pro", ""] and list(seats) == [1.0, 2.0]
    assert len(prepared.features) == 0


def test_the_worker_hands_the_page_one_column_per_input():
    worker.start(json.dumps(SPEC.to_json()))
    prepared = worker.prepare({"age": 41, "plan": "basic", "seats": "2"})
    assert [(c["name"], c["type"]) for c in prepared["columns"]] == [
        ("age", "float"),
        ("plan", "string"),
        ("seats", "float"),
    ]
    assert [list(c["data"]) for c in prepared["columns"]] == [[41.0], ["basic"], [2.0]]
    assert "features" not in prepared


def test_the_csv_scorer_feeds_columns_and_writes_the_predictions():
    spec = OutputSpec(
        kind="classification",
        input="",
        n_features=3,
        label="label",
        probabilities="p",
        class_values=("0", "1"),
        classes=("no", "yes"),
        inputs=INPUTS,
    )
    scorer = CsvScorer(Predictor(SPEC), ShownOutput(spec))
    prepared = scorer.feed("age,plan,seats\n,pro,1\n7,,9\n", final=True)
    assert prepared.rows == [0] and prepared.columns is not None
    assert prepared.columns.data[1] == ["pro"]
    text = scorer.complete([1], [0.25, 0.75])
    assert text.splitlines()[1] == ",pro,1,yes,0.25,0.75,"
    assert "seats: expected one of" in text.splitlines()[2]


def test_the_boot_s_rehearsal_is_predicted_but_never_counted():
    """wasm/python.mjs rehearses a sample at boot: `rehearsed` reads the model's outputs as
    `predicted` does, and drops the record, so the monitor never counts it."""
    output = ShownOutput(
        OutputSpec(
            kind="classification",
            input="",
            n_features=3,
            label="label",
            probabilities="p",
            class_values=("0", "1"),
            classes=("no", "yes"),
            inputs=INPUTS,
        )
    )
    worker.start(json.dumps(dataclasses.replace(SPEC, output=output).to_json()))
    worker.prepare({"age": 41, "plan": "basic", "seats": "2"})
    assert worker._last is not None
    assert worker.rehearsed([1], [0.25, 0.75]) is None
    assert worker._last is None
    assert worker.observe("yes", 0.75) is None  # nothing left to count
