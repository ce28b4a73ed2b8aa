"""Baselines: quantile bins, categories, missing values, and the strict file reader."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticml.baseline import (
    MAX_EDGES,
    BaselineError,
    Variable,
    baseline_from_json,
    baseline_to_json,
    bin_index,
    compute_baseline,
    load_baseline,
    quantile_edges,
    write_baseline,
)
from staticml.calibration import measure_confidence
from tests.support.collector import wine_baseline


def test_numeric_bins_follow_the_contract():
    feature = Variable("x", "numeric", (0, 0, 0), 0, edges=(1.0, 2.0))
    assert [bin_index(feature, v) for v in (-5, 0.99, 1.0, 1.5, 2.0, 1e9)] == [0, 0, 1, 1, 2, 2]
    assert bin_index(feature, None) is None
    assert bin_index(feature, math.nan) is None


def test_categorical_bins_end_with_other():
    feature = Variable("c", "categorical", (0, 0, 0), 0, categories=("red", "white"))
    assert [bin_index(feature, v) for v in ("red", "white", "rosé", None)] == [0, 1, 2, None]


def test_computed_baseline_counts_every_row():
    baseline = wine_baseline()
    assert baseline.rows == 2000
    for variable in (*baseline.features, baseline.output):
        assert sum(variable.counts) + variable.missing == 2000
    alcohol, colour, acidity = baseline.features
    assert alcohol.kind == "numeric" and 5 <= len(alcohol.edges) <= 9
    assert colour.kind == "categorical" and colour.categories == ("red", "white")
    assert acidity.missing > 0
    assert sorted(baseline.output.categories) == ["0", "1", "2"]


def test_quantile_bins_hold_similar_counts():
    values = list(range(1000))
    baseline = compute_baseline({"x": values}, ("y", ["a"] * 1000), bins=10)
    assert baseline.features[0].edges == tuple(float(e) for e in range(100, 1000, 100))
    assert baseline.features[0].counts == (100,) * 10


def test_repeated_quantiles_are_merged():
    assert quantile_edges([1.0] * 50 + [2.0] * 50, 10) == (2.0,)
    assert quantile_edges([7.0], 10) == (7.0,)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200), st.integers(2, MAX_EDGES + 1))
def test_edges_are_strictly_increasing_and_few_enough(values, bins):
    edges = quantile_edges(values, bins)
    assert 1 <= len(edges) <= bins - 1
    assert all(a < b for a, b in itertools.pairwise(edges))


def test_a_column_with_no_value_is_refused():
    with pytest.raises(BaselineError, match="'empty' has no present value"):
        compute_baseline({"empty": [None, None]}, ("y", ["a", "b"]))


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(BaselineError, match="'x' has 1 values but the output has 2"):
        compute_baseline({"x": [1]}, ("y", ["a", "b"]))


def test_the_file_round_trips(tmp_path):
    path = tmp_path / "baseline.json"
    write_baseline(wine_baseline(), path)
    assert load_baseline(path) == wine_baseline()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "format is 2"),
        (lambda d: d["features"][0].update(edges=[2.0, 1.0]), r"features\[0\].edges"),
        (lambda d: d["features"][0]["counts"].append(1), r"features\[0\].counts has"),
        (lambda d: d["features"][1].update(kind="text"), r"features\[1\].kind"),
        (lambda d: d["features"].append(d["features"][0]), "names repeat: alcohol"),
        (lambda d: d["output"].update(missing=-1), "output: counts and missing"),
    ],
)
def test_malformed_files_name_the_key(change, message):
    data = json.loads(json.dumps(baseline_to_json(wine_baseline())))
    change(data)
    with pytest.raises(BaselineError, match=message):
        baseline_from_json(data)


def calibrated_baseline():
    top = np.array([0.15, 0.55, 0.58, 0.92, 0.97, 0.99, 1.0])
    right = np.array([False, True, False, True, True, True, True])
    return dataclasses.replace(
        wine_baseline(), confidence=measure_confidence(top, right, "7 evaluation rows")
    )


def test_the_calibration_is_measured_per_bin_and_round_trips(tmp_path):
    confidence = calibrated_baseline().confidence
    assert confidence.rows == (0, 1, 0, 0, 0, 2, 0, 0, 0, 4)
    assert confidence.mean[5] == pytest.approx(0.565) and confidence.mean[0] is None
    assert confidence.accuracy[5] == 0.5 and confidence.accuracy[1] == 0.0
    # ECE: (1 × |0 - 0.15| + 2 × |0.5 - 0.565| + 4 × |1 - 0.97|) / 7
    assert confidence.ece == pytest.approx((0.15 + 2 * 0.065 + 4 * 0.03) / 7)
    path = tmp_path / "baseline.json"
    write_baseline(calibrated_baseline(), path)
    assert load_baseline(path) == calibrated_baseline()
    unlabelled = measure_confidence(np.array([0.5, 0.7]), None, "samples")
    assert unlabelled.accuracy is None and unlabelled.ece is None
    assert baseline_from_json(baseline_to_json(wine_baseline())).confidence is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(edges=[0.5, 1.5]), r"confidence.edges must be increasing"),
        (lambda c: c["rows"].pop(), r"confidence.rows must be 10"),
        (lambda c: c["mean"].__setitem__(1, 2.0), r"confidence.mean holds 2.0"),
        (lambda c: c.update(ece="low"), r"confidence.ece must be null"),
    ],
)
def test_malformed_calibrations_name_the_key(change, message):
    data = json.loads(json.dumps(baseline_to_json(calibrated_baseline())))
    change(data["confidence"])
    with pytest.raises(BaselineError, match=message):
        baseline_from_json(data)
