"""The in-browser summariser, run in CPython: bins, freezing, noise, state across visits."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import statistics
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticml.baseline import (
    Confidence,
    Variable,
    baseline_to_json,
    bin_index,
    compute_baseline,
)
from staticml.collector.errors import InvalidRequest
from staticml.collector.validate import parse_summary
from staticml.runtime.monitor import Monitor, bin_of, two_sided_geometric

NOW = datetime(2026, 11, 29, 18, 42, tzinfo=UTC)
ROWS = [{"size": float(i % 37), "colour": ["red", "green", "blue"][i % 3]} for i in range(300)]
FEATURES = [[r["size"] * 2, 1.0] for r in ROWS]
OUTPUTS = [["yes", "no"][i % 2] for i in range(300)]


@pytest.fixture(scope="module")
def baseline():
    columns = {
        "size": [r["size"] for r in ROWS],
        "colour": [r["colour"] for r in ROWS],
        "f0": [f[0] for f in FEATURES],
    }
    return compute_baseline(columns, ("prediction", OUTPUTS), bins=8)


def spec_for(baseline, k=20, epsilon=None, release="r1"):
    document = baseline_to_json(baseline)
    sources = {"size": ["field", "size"], "colour": ["field", "colour"], "f0": ["feature", 0]}
    return {
        "release": release,
        "k": k,
        "epsilon": epsilon,
        "features": [
            {**{k: v for k, v in f.items() if k != "counts"}, "source": sources[f["name"]]}
            for f in document["features"]
        ],
        "output": {k: v for k, v in document["output"].items() if k != "counts"},
    }


@given(
    st.one_of(
        st.none(), st.floats(allow_nan=True, allow_infinity=False, width=32), st.integers(-100, 100)
    )
)
def test_the_browser_bins_like_the_build_and_the_collector(value):
    numeric = Variable("x", "numeric", (0, 0, 0, 0), 0, edges=(-1.5, 0.0, 2.25))
    categorical = Variable("c", "categorical", (0, 0, 0), 0, categories=("a", "1"))
    for variable in (numeric, categorical):
        as_spec = {
            "kind": variable.kind,
            "edges": list(variable.edges),
            "categories": list(variable.categories),
        }
        assert bin_of(as_spec, value) == bin_index(variable, value)


def test_edges_are_left_closed():
    variable = {"kind": "numeric", "edges": [1.0, 2.0]}
    assert [bin_of(variable, v) for v in (0.99, 1.0, 1.5, 2.0, 9)] == [0, 1, 1, 2, 2]
    assert bin_of({"kind": "categorical", "categories": ["a"]}, "zzz") == 1


def test_a_summary_is_frozen_every_k_predictions_and_passes_the_collector(baseline):
    monitor = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for row, features, output in zip(ROWS[:45], FEATURES, OUTPUTS, strict=False):
        monitor.observe(row, features, output)
    assert len(monitor.ready) == 2 and monitor.n == 5
    summary = monitor.ready[0]["summary"]
    assert summary["hour"] == "2026-11-29T18" and summary["n"] == 20 and summary["dp"] is None
    assert set(summary) == {"v", "id", "release", "hour", "n", "features", "output", "dp"}
    for name, counts in summary["features"].items():
        assert sum(counts["counts"]) + counts["missing"] == 20, name
    parse_summary(json.dumps(summary).encode(), {"r1": baseline}, now=NOW)


def test_missing_values_are_counted_as_missing(baseline):
    monitor = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for i in range(20):
        monitor.observe({"size": None, "colour": "red"}, [math.nan, 0.0], None if i < 3 else "yes")
    summary = monitor.ready[0]["summary"]
    assert summary["features"]["size"]["missing"] == 20
    assert summary["features"]["f0"]["missing"] == 20
    assert summary["output"]["missing"] == 3
    parse_summary(json.dumps(summary).encode(), {"r1": baseline}, now=NOW)


def test_noisy_summaries_carry_their_epsilon_and_pass_the_collector(baseline):
    monitor = Monitor(
        spec_for(baseline, k=20, epsilon=1.0), clock=lambda: NOW, rng=random.Random(5)
    )
    for row, features, output in zip(ROWS[:20], FEATURES, OUTPUTS, strict=False):
        monitor.observe(row, features, output)
    summary = monitor.ready[0]["summary"]
    assert summary["dp"] == {"mechanism": "geometric", "epsilon": 1.0}
    exact = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for row, features, output in zip(ROWS[:20], FEATURES, OUTPUTS, strict=False):
        exact.observe(row, features, output)
    assert summary["features"] != exact.ready[0]["summary"]["features"]
    parse_summary(json.dumps(summary).encode(), {"r1": baseline}, now=NOW)


def test_geometric_noise_has_the_right_spread():
    rng = random.Random(1)
    epsilon = 0.7
    draws = [two_sided_geometric(epsilon, rng) for _ in range(40_000)]
    alpha = math.exp(-epsilon)
    assert abs(statistics.fmean(draws)) < 0.05
    expected_variance = 2 * alpha / (1 - alpha) ** 2
    assert statistics.pvariance(draws) == pytest.approx(expected_variance, rel=0.05)


def test_state_survives_a_reload_and_other_releases_are_ignored(baseline):
    first = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for row, features, output in zip(ROWS[:27], FEATURES, OUTPUTS, strict=False):
        first.observe(row, features, output)
    saved = json.loads(json.dumps(first.state()))
    second = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    assert second.restore(saved)
    assert second.n == 7 and [i["id"] for i in second.ready] == [i["id"] for i in first.ready]
    for row, features, output in zip(ROWS[27:40], FEATURES[27:40], OUTPUTS[27:40], strict=True):
        second.observe(row, features, output)
    assert len(second.ready) == 2
    assert not Monitor(spec_for(baseline, release="r2")).restore(saved)
    assert not Monitor(spec_for(baseline)).restore({"release": "r1", "partial": {"n": 1}})


def test_handed_over_summaries_are_forgotten(baseline):
    monitor = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for row, features, output in zip(ROWS[:40], FEATURES, OUTPUTS, strict=False):
        monitor.observe(row, features, output)
    first, second = (item["id"] for item in monitor.ready)
    monitor.sent([first])
    assert [item["id"] for item in monitor.ready] == [second]


def test_every_summary_has_its_own_random_id(baseline):
    monitor = Monitor(spec_for(baseline, k=20), clock=lambda: NOW)
    for row, features, output in zip(ROWS[:40], FEATURES, OUTPUTS, strict=False):
        monitor.observe(row, features, output)
    first, second = monitor.ready
    assert first["summary"]["id"] == first["id"] and second["summary"]["id"] == second["id"]
    assert first["id"] != second["id"] and len(first["id"]) == 32


def test_top_class_probabilities_are_counted_over_the_baselines_bins(baseline):
    calibrated = dataclasses.replace(
        baseline,
        confidence=Confidence((10,) * 10, (0.5,) * 10, None, None, "evaluation rows"),
    )
    spec = {
        **spec_for(calibrated),
        "confidence": {"kind": "numeric", "edges": [0.1 * i for i in range(1, 10)]},
    }
    monitor = Monitor(spec, clock=lambda: NOW)
    tops = [0.55, 0.95, 1.0, None] * 5
    for row, features, output, top in zip(ROWS[:20], FEATURES, OUTPUTS, tops, strict=False):
        monitor.observe(row, features, output, top)
    summary = monitor.ready[0]["summary"]
    assert summary["confidence"] == {"counts": [0] * 5 + [5, 0, 0, 0, 10], "missing": 5}
    parsed = parse_summary(json.dumps(summary).encode(), {"r1": calibrated}, now=NOW)
    assert parsed.confidence is not None and parsed.confidence.missing == 5
    # Without bins in the baseline the collector refuses the field; without the field it
    # counts the summary's predictions as missing (an older page).
    with pytest.raises(InvalidRequest) as caught:
        parse_summary(json.dumps(summary).encode(), {"r1": baseline}, now=NOW)
    assert caught.value.key == "confidence"
    older = {k: v for k, v in summary.items() if k != "confidence"}
    parsed = parse_summary(json.dumps(older).encode(), {"r1": calibrated}, now=NOW)
    assert parsed.confidence is not None and parsed.confidence.missing == 20


def test_a_saved_state_without_confidence_counts_is_not_restored_into_one_with_them(baseline):
    old = Monitor(spec_for(baseline), clock=lambda: NOW)
    old.observe(ROWS[0], FEATURES[0], OUTPUTS[0])
    state = old.state()
    del state["partial"]["confidence"]
    spec = {**spec_for(baseline), "confidence": {"kind": "numeric", "edges": [0.5]}}
    assert not Monitor(spec, clock=lambda: NOW).restore(state)
    assert Monitor(spec_for(baseline), clock=lambda: NOW).restore(state)
