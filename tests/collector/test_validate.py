"""Summary validation: everything docs/summaries.md allows passes, everything else names its key."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticml.collector.errors import InvalidRequest
from staticml.collector.validate import MAX_N, Counts, parse_summary
from tests.support.collector import (
    HOUR,
    RELEASE,
    body,
    summarise,
    wine,
    wine_baseline,
    wine_summary,
)

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
BASELINES = {RELEASE: wine_baseline()}


def parse(summary: object, now: datetime = NOW):
    return parse_summary(body(summary), BASELINES, now)


def rejected_key(summary: object, now: datetime = NOW) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse(summary, now)
    return caught.value.key


def test_a_valid_summary_parses_in_baseline_order():
    summary = parse(wine_summary(rows=25))
    assert summary.release == RELEASE and summary.hour == HOUR and summary.n == 25
    assert [name for name, _ in summary.features] == ["alcohol", "colour", "acidity"]
    assert not summary.dp
    for _, counts in (*summary.features, ("output", summary.output)):
        assert sum(counts.counts) + counts.missing == 25


def test_dp_may_be_left_out():
    summary = wine_summary()
    del summary["dp"]
    assert parse(summary).epsilon is None


def mutate(path: str, value: object):
    """A change to a valid summary: set `value` at a dotted `path` (None value deletes)."""

    def change(summary: dict) -> None:
        *parents, last = path.split(".")
        target = summary
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value

    return change


DELETE = object()


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (mutate("ip", "203.0.113.9"), "ip"),
        (mutate("user_agent", "Firefox"), "user_agent"),
        (mutate("n", DELETE), "n"),
        (mutate("features", DELETE), "features"),
        (mutate("v", 2), "v"),
        (mutate("v", True), "v"),
        (mutate("release", "ffffffffffff"), "release"),
        (mutate("release", 12), "release"),
        (mutate("hour", "2026-11-29T18:00"), "hour"),
        (mutate("hour", "2026-11-29 18"), "hour"),
        (mutate("hour", "2026-13-01T00"), "hour"),
        (mutate("hour", "2026-11-29T24"), "hour"),
        (mutate("hour", "2026-11-29T20"), "hour"),
        (mutate("hour", 2026112918), "hour"),
        (mutate("n", 0), "n"),
        (mutate("n", MAX_N + 1), "n"),
        (mutate("n", 25.0), "n"),
        (mutate("n", "25"), "n"),
        (mutate("n", True), "n"),
        (mutate("n", 26), "features.alcohol"),
        (mutate("features.colour", DELETE), "features.colour"),
        (mutate("features.extra", {"counts": [], "missing": 0}), "features.extra"),
        (mutate("features.alcohol.counts", [25]), "features.alcohol.counts"),
        (mutate("features.alcohol.counts", "25"), "features.alcohol.counts"),
        (mutate("features.alcohol.missing", -1), "features.alcohol.missing"),
        (mutate("features.alcohol.raw", [12.1]), "features.alcohol.raw"),
        (mutate("features.alcohol.missing", DELETE), "features.alcohol.missing"),
        (mutate("features.colour", [12, 13, 0]), "features.colour"),
        (mutate("output.counts", [25]), "output.counts"),
        (mutate("output", None), "output"),
        (mutate("dp", {"mechanism": "laplace", "epsilon": 1}), "dp.mechanism"),
        (mutate("dp", {"mechanism": "geometric", "epsilon": 0}), "dp.epsilon"),
        (mutate("dp", {"mechanism": "geometric", "epsilon": "1"}), "dp.epsilon"),
        (mutate("dp", {"mechanism": "geometric"}), "dp.epsilon"),
        (mutate("dp", {"mechanism": "geometric", "epsilon": 1, "seed": 3}), "dp.seed"),
        (mutate("dp", True), "dp"),
    ],
)
def test_a_wrong_summary_names_its_key(change, key):
    summary = wine_summary(rows=25)
    change(summary)
    assert rejected_key(summary) == key


def test_counts_must_be_integers_and_add_up():
    summary = wine_summary(rows=25)
    counts = summary["features"]["alcohol"]["counts"]
    first = next(i for i, c in enumerate(counts) if c > 0)
    counts[first] = float(counts[first])
    assert rejected_key(summary) == f"features.alcohol.counts[{first}]"
    counts[first] = -1
    assert rejected_key(summary) == f"features.alcohol.counts[{first}]"


def test_the_message_says_what_was_expected():
    summary = wine_summary()
    summary["features"]["alcohol"]["counts"].append(0)
    with pytest.raises(InvalidRequest) as caught:
        parse(summary)
    message = str(caught.value)
    assert message.startswith("features.alcohol.counts: has")
    assert f"{wine_baseline().features[0].bins} bins" in message


def test_one_hour_of_clock_skew_is_allowed():
    assert parse(wine_summary(hour="2026-11-29T19")).hour == "2026-11-29T19"
    assert (
        rejected_key(wine_summary(hour="2026-11-29T19"), datetime(2026, 11, 29, 17, 59, tzinfo=UTC))
        == "hour"
    )


def test_old_hours_are_accepted():
    assert parse(wine_summary(hour="2020-01-01T00")).hour == "2020-01-01T00"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"\xff\xfe", "body"),
        (b"", "body"),
        (b"{not json", "body"),
        (b"[1, 2]", "summary"),
        (b'{"v": NaN}', "body"),
        (b'{"v": 1, "v": 1}', "body"),
    ],
)
def test_a_body_that_is_no_json_object_is_refused(raw, key):
    with pytest.raises(InvalidRequest) as caught:
        parse_summary(raw, BASELINES, NOW)
    assert caught.value.key == key


def noisy(summary: dict, noise: int) -> dict:
    summary = copy.deepcopy(summary)
    summary["dp"] = {"mechanism": "geometric", "epsilon": 1.0}
    summary["output"]["missing"] += noise
    return summary


def test_dp_counts_may_be_negative_and_need_not_add_up():
    summary = noisy(wine_summary(rows=25), -3)
    summary["features"]["alcohol"]["counts"][0] = -2
    parsed = parse(summary)
    assert parsed.epsilon == 1.0 and parsed.output.missing == -3
    assert parsed.features[0][1].counts[0] == -2


def test_dp_counts_are_bounded():
    # ε = 1: noise beyond 30 has a probability below e^-30, so such counts are not noise.
    assert parse(noisy(wine_summary(rows=25), -30)).output.missing == -30
    assert parse(noisy(wine_summary(rows=25), 25 + 30)).output.missing == 55
    assert rejected_key(noisy(wine_summary(rows=25), -31)) == "output.missing"
    assert rejected_key(noisy(wine_summary(rows=25), 25 + 31)) == "output.missing"


# --- properties -------------------------------------------------------------------------------


@given(st.integers(1, 300), st.integers(0, 10_000), st.floats(0, 3))
def test_any_honest_summary_is_accepted_unchanged(rows, seed, shift):
    columns, output = wine(rows, seed, shift)
    summary = summarise(wine_baseline(), columns, output)
    parsed = parse(summary)
    assert parsed.n == rows
    for name, counts in parsed.features:
        sent = summary["features"][name]
        assert counts == Counts(tuple(sent["counts"]), sent["missing"])


@given(
    st.sampled_from(["alcohol", "colour", "acidity"]),
    st.integers(0, 12),
    st.integers(-1000, 1000).filter(lambda d: d != 0),
)
def test_changing_any_one_count_is_caught(name, index, delta):
    summary = wine_summary(rows=40)
    counts = summary["features"][name]["counts"]
    counts[index % len(counts)] += delta
    with pytest.raises(InvalidRequest) as caught:
        parse(summary)
    assert caught.value.key.startswith(f"features.{name}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_arbitrary_json_is_refused_with_a_key(value):
    with pytest.raises(InvalidRequest) as caught:
        parse_summary(json.dumps(value).encode(), BASELINES, NOW)
    assert caught.value.key


@given(
    st.dictionaries(
        st.sampled_from(["v", "release", "hour", "n", "features", "output", "dp", "x"]),
        json_values,
    )
)
def test_summary_shaped_garbage_is_refused_with_a_key(value):
    merged = {**wine_summary(), **value}
    try:
        parse(merged)
    except InvalidRequest as error:
        assert error.key
    else:
        assert "x" not in value


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(raw):
    with pytest.raises(InvalidRequest):
        parse_summary(raw, BASELINES, NOW)
