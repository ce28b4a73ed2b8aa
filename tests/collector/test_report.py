"""Drift reports from stored summaries: shifted features are flagged, unshifted ones are not."""

from __future__ import annotations

import math
import random
import zlib
from datetime import UTC, datetime

import pytest

from staticml.collector.alerts import crossed, parse_condition
from staticml.collector.errors import InvalidRequest
from staticml.collector.report import drift_report, parse_window, psi_history
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from staticml.drift import NOT_ENOUGH_DATA
from staticml.errors import CollectorError
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
TODAY, YESTERDAY = "2026-11-29T12", "2026-11-28T12"


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    yield store
    store.close()


def fill(store, hour: str, summaries: int, rows: int = 50, shift: float = 0.0, dp=None) -> None:
    for seed in range(summaries):
        sent = wine_summary(
            rows=rows, seed=zlib.crc32(f"{hour}/{seed}/{shift}".encode()), shift=shift, hour=hour
        )
        if dp is not None:
            dp(sent)
        store.add(parse_summary(body(sent), {RELEASE: wine_baseline()}, NOW))


def report(store, window: str = "24h"):
    return drift_report(store, RELEASE, wine_baseline(), window, now=NOW)


def verdicts(result, comparison: str) -> dict[str, str]:
    return {v.name: getattr(v, comparison).verdict for v in result.variables}


def test_a_shifted_window_is_skew_and_drift_for_the_shifted_features_only(store):
    fill(store, YESTERDAY, 60)
    fill(store, TODAY, 60, shift=1.5)
    result = report(store)
    assert result.current.n == result.previous.n == 3000
    expected = {"alcohol": "alert", "colour": "alert", "acidity": "ok", "label": "ok"}
    assert verdicts(result, "skew") == expected
    assert verdicts(result, "drift") == expected
    assert result.verdict == "alert"
    colour = result.features[1]
    assert colour.skew.p_value is not None and colour.skew.p_value < 1e-6
    assert result.output.skew.p_value > 1e-3


def test_an_unshifted_window_is_ok(store):
    fill(store, YESTERDAY, 60)
    fill(store, TODAY, 60)
    result = report(store)
    assert set(verdicts(result, "skew").values()) == {"ok"}
    assert set(verdicts(result, "drift").values()) == {"ok"}
    assert all(v.skew.psi < 0.1 and v.skew.js < 0.1 for v in result.variables)


def test_too_few_predictions_are_not_enough_data(store):
    fill(store, TODAY, 3, shift=3.0)  # 150 predictions, below the minimum of 200
    result = report(store)
    assert result.current.n == 150
    assert result.verdict == NOT_ENOUGH_DATA
    assert all(v.skew.psi is None for v in result.variables)


def test_skew_without_a_previous_window(store):
    fill(store, TODAY, 60, shift=1.5)
    result = report(store)
    assert result.previous.n == 0
    assert verdicts(result, "skew")["alcohol"] == "alert"
    assert set(verdicts(result, "drift").values()) == {NOT_ENOUGH_DATA}


def test_windows_exclude_older_and_newer_hours(store):
    fill(store, "2026-11-27T12", 10, shift=3.0)  # two windows ago
    fill(store, "2026-11-29T19", 10, shift=3.0)  # next hour (clock skew): not yet in the window
    fill(store, TODAY, 5)
    result = report(store)
    assert (result.current.start, result.current.end) == ("2026-11-28T19", "2026-11-29T19")
    assert (result.current.n, result.previous.n) == (250, 0)
    assert report(store, "1h").current.n == 0


def geometric_noise(rng: random.Random, epsilon: float) -> int:
    """Two-sided geometric noise: the difference of two geometric variables."""
    p = 1 - math.exp(-epsilon)

    def geometric() -> int:
        return int(math.log(1 - rng.random()) / math.log(1 - p))

    return geometric() - geometric()


def test_dp_summaries_still_separate_shifted_from_unshifted(store):
    rng = random.Random(3)

    def add_noise(sent) -> None:
        sent["dp"] = {"mechanism": "geometric", "epsilon": 1.0}
        for part in (*sent["features"].values(), sent["output"]):
            part["counts"] = [c + geometric_noise(rng, 1.0) for c in part["counts"]]
            part["missing"] += geometric_noise(rng, 1.0)

    fill(store, TODAY, 100, rows=30, shift=1.5, dp=add_noise)
    result = report(store)
    assert result.current.dp
    skew = verdicts(result, "skew")
    assert skew["alcohol"] == skew["colour"] == "alert"
    assert skew["acidity"] == skew["label"] == "ok"
    assert all(p >= 0 for v in result.variables for p in v.current)


def test_psi_history_has_a_point_per_window(store):
    fill(store, TODAY, 10, shift=1.5)
    history = psi_history(store, RELEASE, wine_baseline(), "24h", now=NOW)
    assert len(history) == 12
    assert history[-1][0] == "2026-11-29T19"
    assert history[-1][1]["feature:alcohol"] > 0.2
    assert history[-1][1]["output"] < 0.1
    assert history[0][1]["feature:alcohol"] is None


@pytest.mark.parametrize(("text", "hours"), [("1h", 1), ("24h", 24), ("7d", 168), (" 2d", 48)])
def test_windows(text, hours):
    assert parse_window(text) == hours


@pytest.mark.parametrize("text", ["", "0h", "24", "1w", "1.5h", "-3h", "9999d", "24 h"])
def test_bad_windows(text):
    with pytest.raises(InvalidRequest, match="window"):
        parse_window(text)


# --- --fail-on ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("psi>0.2", "psi>0.2"),
        ("skew.js >= 0.1", "skew.js>=0.1"),
        ("drift.p<1e-3", "drift.p<0.001"),
        ("psi<=.5", "psi<=0.5"),
    ],
)
def test_conditions(text, expected):
    assert str(parse_condition(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("psi", "is not a condition"),
        ("psi=0.2", "is not a condition"),
        ("psi>abc", "is not a condition"),
        ("kl>0.1", "'kl' is not psi, js, p or estimated_accuracy"),
        ("train.psi>0.1", "'train' is not skew or drift"),
    ],
)
def test_bad_conditions_say_how_to_write_one(text, message):
    with pytest.raises(CollectorError, match=message) as caught:
        parse_condition(text)
    assert "e.g. psi>0.2" in str(caught.value)


def test_conditions_pick_the_crossing_variables(store):
    fill(store, YESTERDAY, 60)
    fill(store, TODAY, 60, shift=1.5)
    result = report(store)
    lines = crossed(result, [parse_condition("skew.psi>0.2")])
    assert [line.split(" is ")[0] for line in lines] == [
        "skew psi of feature alcohol",
        "skew psi of feature colour",
    ]
    assert crossed(result, [parse_condition("psi>100")]) == []
    assert len(crossed(result, [parse_condition("psi>0.2")])) == 4  # skew and drift
    assert len(crossed(result, [parse_condition("skew.p<0.01")])) == 1  # colour; p only categorical


def test_not_enough_data_crosses_nothing(store):
    fill(store, TODAY, 3, shift=3.0)
    assert crossed(report(store), [parse_condition("psi>=0")]) == []
