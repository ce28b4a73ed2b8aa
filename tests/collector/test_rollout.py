"""Rollout summaries at the collector: strict validation, merging on both backends, the report."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.errors import InvalidRequest
from staticml.collector.outcomes import rollout_report
from staticml.collector.proportions import rate_sequence
from staticml.collector.rollout import LATENCY_BINS, parse_rollout
from staticml.collector.stores import open_store
from staticml.collector.validate import DP_NOISE_BOUND
from staticml.runtime.monitor import noisy_rollout, two_sided_geometric
from staticml.runtime.worker import rollout_noise
from tests.support.collector import HOUR, RELEASE, wine_baseline

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
SHADOW = "0123456789ab"
BASELINES = {RELEASE: wine_baseline(), SHADOW: wine_baseline()}


def summary(right: int = 3, wrong: int = 1, n: int = 5, agree: int = 4, release: str = RELEASE):
    confusion = [[0] * 4 for _ in range(4)]
    confusion[0][0], confusion[1][2] = agree, n - agree
    latency = [0] * LATENCY_BINS
    latency[2] = n
    return {
        "v": 1,
        "release": release,
        "hour": HOUR,
        "shadow": {
            "release": SHADOW if release == RELEASE else RELEASE,
            "n": n,
            "agree": agree,
            "confusion": confusion,
            "latency": {"primary": latency, "shadow": latency},
        },
        "feedback": {"right": right, "wrong": wrong},
    }


def parse(data) -> object:
    return parse_rollout(json.dumps(data).encode(), BASELINES, NOW)


def test_a_valid_summary_becomes_counts():
    cells = dict(parse(summary()).cells)
    assert cells["feedback:right"] == 3 and cells["feedback:wrong"] == 1
    assert cells[f"shadow:{SHADOW}:n"] == 5 and cells[f"shadow:{SHADOW}:agree"] == 4
    assert cells[f"shadow:{SHADOW}:confusion:1:2"] == 1
    assert cells[f"shadow:{SHADOW}:latency:shadow:2"] == 5


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s.update(id="4f9c"), "id"),
        (lambda s: s.update(id="A" * 32), "id"),
        (lambda s: s.update(device="0" * 32), "device"),
        (lambda s: s.update(release="ffffffffffff"), "release"),
        (lambda s: s["shadow"].update(release=RELEASE), "shadow.release"),
        (lambda s: s["shadow"].update(agree=6), "shadow.agree"),
        (
            lambda s: s["shadow"].update(confusion=[["cultivar 1", "cultivar 2"]]),
            "shadow.confusion",
        ),
        (lambda s: s["shadow"]["confusion"][0].__setitem__(0, 3), "shadow.confusion"),
        (lambda s: s["shadow"]["latency"].update(shadow=[5]), "shadow.latency.shadow"),
        (lambda s: s["feedback"].update(right=-1), "feedback.right"),
        (lambda s: s["feedback"].update(labels=["1"]), "feedback.labels"),
        (lambda s: s.update(shadow=None, feedback=None), "shadow"),
        (lambda s: s.update(hour="2026-11-29T23"), "hour"),
    ],
)
def test_anything_but_the_contract_is_refused_by_key(change, key):
    data = summary()
    change(data)
    with pytest.raises(InvalidRequest) as raised:
        parse(data)
    assert raised.value.key == key


def test_counts_merge_by_addition(db_url):
    store = open_store(db_url)
    try:
        store.add_rollout(parse(summary(right=3, wrong=1)))
        store.add_rollout(parse(summary(right=2, wrong=4, agree=5)))
        rows = {(r, m): c for r, m, c in store.read_rollout("2026-11-29T00", "2026-11-30T00")}
        assert rows[(RELEASE, "feedback:right")] == 5 and rows[(RELEASE, "feedback:wrong")] == 5
        assert rows[(RELEASE, f"shadow:{SHADOW}:agree")] == 9
        assert store.read_rollout("2026-11-29T19", "2026-11-30T00") == []
    finally:
        store.close()


SUMMARY_ID = "0123456789abcdef0123456789abcdef"


def test_a_rollout_summary_stored_twice_is_merged_once(db_url):
    store = open_store(db_url)
    try:
        assert store.add_rollout(parse(summary(right=3, wrong=1) | {"id": SUMMARY_ID})) is True
        assert store.add_rollout(parse(summary(right=3, wrong=1) | {"id": SUMMARY_ID})) is False
        assert store.add_rollout(parse(summary(right=2, wrong=4) | {"id": "f" * 32})) is True
        assert store.add_rollout(parse(summary(right=1, wrong=0))) is True  # no id: no check
        assert store.add_rollout(parse(summary(right=1, wrong=0))) is True
        rows = {(r, m): c for r, m, c in store.read_rollout("2026-11-29T00", "2026-11-30T00")}
        assert rows[(RELEASE, "feedback:right")] == 3 + 2 + 1 + 1
        assert rows[(RELEASE, "feedback:wrong")] == 1 + 4
        assert rows[(RELEASE, f"shadow:{SHADOW}:n")] == 4 * 5
    finally:
        store.close()


def test_the_same_rollout_summary_posted_twice_is_counted_once(db_url):
    store = open_store(db_url)
    app = create_collector_app(BASELINES, store, clock=lambda: NOW)
    sent = json.dumps(summary(right=4, wrong=1) | {"id": SUMMARY_ID})
    try:
        with TestClient(app) as client:
            replies = [
                client.post("/v1/rollout", content=sent, headers={"Content-Type": "text/plain"})
                for _ in range(2)
            ]
            report = client.get("/v1/rollout?window=24h").json()
    finally:
        store.close()
    assert [r.status_code for r in replies] == [202, 202] and replies[0].json() == replies[1].json()
    variant = report["variants"][RELEASE]
    assert (variant["right"], variant["n"]) == (4, 5)
    assert report["shadows"][RELEASE][SHADOW]["n"] == 5


def test_the_report_gives_rates_intervals_and_verdicts(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    app = create_collector_app(BASELINES, store, clock=lambda: NOW)
    with TestClient(app) as client:
        for _ in range(20):  # A: 800 right of 1000; B: 500 of 1000
            sent = client.post(
                "/v1/rollout",
                content=json.dumps(summary(40, 10)),
                headers={"Content-Type": "text/plain"},
            )
            assert sent.status_code == 202, sent.text
            sent = client.post(
                "/v1/rollout",
                content=json.dumps(summary(10, 10, release=SHADOW) | {"shadow": None}),
                headers={"Content-Type": "text/plain"},
            )
            assert sent.status_code == 202, sent.text
        for _ in range(30):
            client.post(
                "/v1/rollout",
                content=json.dumps(summary(10, 10, release=SHADOW) | {"shadow": None}),
            )
        report = client.get("/v1/rollout?window=24h").json()
    store.close()
    a, b = report["variants"][RELEASE], report["variants"][SHADOW]
    assert (a["right"], a["n"], b["right"], b["n"]) == (800, 1000, 500, 1000)
    sequence = rate_sequence(800, 1000)
    assert sequence is not None and a["interval"] == pytest.approx([sequence.low, sequence.high])
    (pair,) = report["comparisons"]
    assert (pair["a"], pair["b"]) == (SHADOW, RELEASE)  # sorted
    assert pair["verdict"] == RELEASE and pair["needed"] == 0
    assert pair["interval"][1] < 0 and pair["difference"] == pytest.approx(-0.3)
    shadow = report["shadows"][RELEASE][SHADOW]
    assert (shadow["n"], shadow["agree"]) == (100, 80)


def test_a_small_difference_is_not_called_a_winner_and_says_what_it_would_take(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    try:
        store.add_rollout(parse(summary(52, 48) | {"shadow": None}))
        store.add_rollout(parse(summary(50, 50, release=SHADOW) | {"shadow": None}))
        (pair,) = rollout_report(store, "24h", NOW)["comparisons"]
    finally:
        store.close()
    assert pair["verdict"] is None and pair["interval"][0] < 0 < pair["interval"][1]
    assert pair["needed"] is not None and pair["needed"] > 1000


def noised(data: dict, epsilon: float, seed: int) -> dict:
    return noisy_rollout(data, epsilon, random.Random(seed))


def every_count(data: dict) -> list[int]:
    shadow = data["shadow"]
    counts = [data["feedback"]["right"], data["feedback"]["wrong"], shadow["n"], shadow["agree"]]
    counts += [c for row in shadow["confusion"] for c in row]
    return counts + shadow["latency"]["primary"] + shadow["latency"]["shadow"]


def test_rollout_counts_get_the_drift_summaries_noise():
    """Each count, in document order, moves by the next draw of `two_sided_geometric`: the
    mechanism drift summaries use, not a second one."""
    exact = summary()
    result = noised(exact, 0.5, seed=7)
    draws = random.Random(7)
    shadow, counts = exact["shadow"], result["shadow"]
    expected, found = every_count(exact), every_count(result)
    assert found == [c + two_sided_geometric(0.5, draws) for c in expected]
    assert found != expected
    assert result["dp"] == {"mechanism": "geometric", "epsilon": 0.5}
    assert counts["release"] == shadow["release"] and result["hour"] == exact["hour"]


def test_noised_rollout_summaries_are_accepted_and_only_within_the_bound():
    seen_negative = False
    for seed in range(200):
        data = noised(summary(right=0, wrong=1, n=1, agree=1), 0.1, seed)
        cells = dict(parse(data).cells)  # the collector's validator accepts it
        seen_negative |= min(cells.values()) < 0
    assert seen_negative, "small counts with noise go below zero"
    far = noised(summary(), 0.1, seed=1)
    far["feedback"]["right"] = -(math.ceil(DP_NOISE_BOUND / 0.1) + 1)
    with pytest.raises(InvalidRequest) as raised:
        parse(far)
    assert raised.value.key == "feedback.right"
    exact = summary()
    exact["feedback"]["right"] = -1
    with pytest.raises(InvalidRequest):
        parse(exact | {"dp": None})


def test_noisy_totals_are_clamped_and_agreement_stays_a_rate(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    data = summary(right=0, wrong=2, n=2, agree=2)
    data["feedback"]["right"] = -3
    data["shadow"]["n"], data["shadow"]["agree"] = 1, 4
    store.add_rollout(parse(data | {"dp": {"mechanism": "geometric", "epsilon": 1.0}}))
    report = rollout_report(store, "24h", NOW)
    store.close()
    assert report["variants"][RELEASE]["right"] == 0
    shadow = report["shadows"][RELEASE][SHADOW]
    assert (shadow["n"], shadow["agree"], shadow["agreement"]) == (1, 1, 1.0)


def test_the_worker_noises_a_rollout_summary_given_as_json():
    text = rollout_noise(json.dumps(summary()), 2)
    data = json.loads(text)
    assert data["dp"] == {"mechanism": "geometric", "epsilon": 2.0}
    assert parse(data).cells
