"""CSV scoring as the worker drives it: feed text in chunks, run the model, complete."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staticml.runtime.contract import OutputSpec, PredictSpec, ShownOutput
from staticml.runtime.engine import Predictor
from staticml.runtime.table import CsvScorer, TableError

PACKAGE = """
def features(record):
    return [record["x"], record["y"] or 0.0]

def features_batch(records):
    if any(r["x"] == 13 for r in records):
        raise ValueError("unlucky")
    return [[r["x"], r["y"] or 0.0] for r in records]
"""
FIELDS = [
    {"name": "x", "type": "number", "min": 0, "max": 100},
    {"name": "y", "type": "number", "required": False},
    {"name": "kind", "type": "category", "choices": ["a", "b"], "default": "a"},
]
# The worker configuration's `output`: the model's outputs and how they are shown.
CLASSIFIER = ShownOutput(
    OutputSpec(
        "classification", "input", 2, "label", "probabilities", None, ("0", "1"), ("low", "high")
    )
)
REGRESSOR = ShownOutput(OutputSpec("regression", "input", 2, value="variable"), target="score")


@pytest.fixture
def predictor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "twofeatures.py").write_text(PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return lambda batch=True: Predictor(
        PredictSpec(
            entry="twofeatures:features",
            batch="twofeatures:features_batch" if batch else None,
            n_features=2,
            fields=tuple(FIELDS),
        )
    )


def fake_model(prepared, regression: bool):
    """Stand-in for onnxruntime (which runs in the page): label 1 when x > 50."""
    rows = [prepared.features[i * 2 : i * 2 + 2] for i in range(len(prepared.rows))]
    if regression:
        return None, [x + y for x, y in rows]
    return [str(int(x > 50)) for x, _ in rows], [
        p for x, _ in rows for p in ((0.2, 0.8) if x > 50 else (0.9, 0.1))
    ]


def score(scorer: CsvScorer, chunks: list[str], regression: bool = False) -> str:
    out = []
    for index, chunk in enumerate(chunks):
        prepared = scorer.feed(chunk, final=index == len(chunks) - 1)
        out.append(scorer.complete(*fake_model(prepared, regression)))
    return "".join(out)


TEXT = 'x,y,kind,comment\n10,1,a,first\n60,,b,"multi\nline, quoted"\nabc,2,a,bad number\n\n70,3,c,bad kind\n13,0,a,batch fails\n90,1\n'


def test_every_row_is_accounted_for_in_order(predictor):
    scorer = CsvScorer(predictor(), CLASSIFIER)
    rows = list(csv.reader(io.StringIO(score(scorer, [TEXT]))))
    assert rows[0] == ["x", "y", "kind", "comment", "prediction", "p_low", "p_high", "error"]
    body = rows[1:]
    assert [r[0] for r in body] == ["10", "60", "abc", "70", "13", "90"]
    assert body[0][4:] == ["low", "0.9", "0.1", ""]
    assert body[1][3] == "multi\nline, quoted" and body[1][4] == "high"
    assert body[2][4:] == ["", "", "", "x: expected a number, got 'abc'"]
    assert body[3][7] == "kind: expected one of 'a', 'b', got 'c'"
    assert body[4][4] == "low", "a failing batch function falls back to row by row"
    assert body[5][7] == "the row has 2 values but the header has 4 columns"
    totals = scorer.totals
    assert (totals.rows, totals.scored, totals.error_count) == (6, 3, 3)
    assert totals.errors == [
        (3, "x: expected a number, got 'abc'"),
        (4, "kind: expected one of 'a', 'b', got 'c'"),
        (6, "the row has 2 values but the header has 4 columns"),
    ]


def test_regression_output_column(predictor):
    scorer = CsvScorer(predictor(), REGRESSOR)
    rows = list(csv.reader(io.StringIO(score(scorer, ["x,y\n1,2\n3,\n"], regression=True))))
    assert rows == [["x", "y", "score", "error"], ["1", "2", "3", ""], ["3", "", "3", ""]]


def test_column_names_never_collide(predictor):
    scorer = CsvScorer(predictor(), CLASSIFIER)
    header = next(csv.reader(io.StringIO(score(scorer, ["x,prediction,error\n1,a,b\n"]))))
    assert header == ["x", "prediction", "error", "prediction_1", "p_low", "p_high", "error_1"]


def test_a_missing_required_column_fails_the_file(predictor):
    scorer = CsvScorer(predictor(), CLASSIFIER)
    with pytest.raises(
        TableError,
        match=r"the CSV has no column 'x'; its header must name the fields 'x', 'y', 'kind' \(found: 'y', 'kind'\)",
    ):
        scorer.feed("y,kind\n1,a\n", final=True)


def test_an_empty_file_is_explained(predictor):
    with pytest.raises(TableError, match="the file is empty"):
        CsvScorer(predictor(), CLASSIFIER).feed("", final=True)


# The fixture only builds predictors; reusing it across examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=8), batch=st.booleans()
)
def test_any_chunking_gives_the_same_output(predictor, cuts, batch):
    bounds = sorted(set(cuts))
    chunks = [TEXT[a:b] for a, b in zip([0, *bounds], [*bounds, len(TEXT)], strict=True)]
    whole = score(CsvScorer(predictor(batch), CLASSIFIER), [TEXT])
    assert score(CsvScorer(predictor(batch), CLASSIFIER), chunks) == whole


def test_totals_serialise(predictor):
    scorer = CsvScorer(predictor(), CLASSIFIER)
    score(scorer, [TEXT])
    assert json.loads(json.dumps(scorer.totals.errors))[0] == [3, "x: expected a number, got 'abc'"]
