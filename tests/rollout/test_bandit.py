"""The bandit: guardrail arithmetic, and a simulation of `staticml bandit update` rounds on a
real site and a real collector database, with two arms whose outcome rates are known."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from staticml.cli import cli
from staticml.collector.releases import load_bundles, parse_baselines
from staticml.collector.rollout import parse_rollout
from staticml.collector.stores import open_store
from staticml.errors import RolloutError
from staticml.rollout import Site
from staticml.rollout.bandit import (
    Guardrails,
    against_leader,
    decide,
    describe_guardrail,
    guarded_shares,
)

RATES = {"worse": 0.45, "better": 0.6}
VISITORS_PER_ROUND = 400
ROUNDS = 6
MIN_SHARE, MAX_CHANGE = 0.1, 0.2


def test_guardrails_limit_the_step_and_keep_the_floor():
    rails = Guardrails(min_share=0.1, max_change=0.2)
    step = guarded_shares({"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}, rails)
    assert step == pytest.approx({"a": 0.3, "b": 0.7})
    assert guarded_shares({"a": 0.2, "b": 0.8}, {"a": 0.0, "b": 1.0}, rails) == pytest.approx(
        {"a": 0.1, "b": 0.9}
    )
    with pytest.raises(RolloutError, match=r"min-share 0\.6 cannot hold for 2 arms"):
        guarded_shares({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}, Guardrails(min_share=0.6))


def feedback_summary(release: str, right: int, wrong: int) -> bytes:
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    data = {"v": 1, "release": release, "hour": hour, "shadow": None,
            "feedback": {"right": right, "wrong": wrong}}  # fmt: skip
    return json.dumps(data).encode()


def test_bandit_rounds_move_traffic_to_the_better_arm_within_guardrails(tmp_path, wine_releases):
    site = Site(tmp_path / "site")
    arms = {"worse": site.add(wine_releases.a), "better": site.add(wine_releases.b)}
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    baselines = parse_baselines(load_bundles([wine_releases.a, wine_releases.b]))
    runner = CliRunner()
    started = runner.invoke(cli, ["bandit", "start", *arms.values(), "--site", str(site.root)])
    assert started.exit_code == 0, started.output
    rng = random.Random(7)
    history = [site.state().shares()]
    for round_ in range(ROUNDS):
        store = open_store(db)
        for name, release in arms.items():  # visitors of each arm, as its share says
            visitors = round(VISITORS_PER_ROUND * history[-1][release])
            right = sum(rng.random() < RATES[name] for _ in range(visitors))
            now = datetime.now(UTC)
            store.add_rollout(
                parse_rollout(feedback_summary(release, right, visitors - right), baselines, now)
            )
        store.close()
        command = ["bandit", "update", "--db", db, "--site", str(site.root), "--seed", str(round_)]
        command += ["--min-share", str(MIN_SHARE), "--max-change", str(MAX_CHANGE)]
        updated = runner.invoke(cli, command)
        assert updated.exit_code == 0, updated.output
        history.append(site.state().shares())
    better = [shares[arms["better"]] for shares in history]
    print("share of the better arm by round:", [round(s, 3) for s in better])
    decisions = [e["decision"] for e in site.history() if e["action"] == "bandit-update"]
    assert len(decisions) == ROUNDS
    [retiring] = [i for i, d in enumerate(decisions) if d["retired"]]
    assert decisions[retiring]["retired"] == [arms["worse"]]
    assert decisions[retiring]["against_leader"][arms["worse"]]["interval"][1] < 0
    for i, (before, after) in enumerate(itertools.pairwise(history)):
        assert sum(after.values()) == pytest.approx(1.0)
        if i < retiring:  # the step guardrails hold until the worse arm is shown worse
            assert all(share >= MIN_SHARE - 1e-9 for share in after.values())
            assert all(abs(after[r] - before[r]) <= MAX_CHANGE + 1e-9 for r in after)
        else:  # then it is retired at once, and stays retired
            assert after == {arms["worse"]: 0.0, arms["better"]: 1.0}
    assert 0 < retiring < ROUNDS - 1 and better[0] == 0.5 and better[retiring] > 0.5
    assert decisions[-1]["outcomes"][arms["better"]]["right"] > 0


def test_bandit_update_needs_a_running_bandit(tmp_path, wine_releases):
    site = Site(tmp_path / "site")
    site.add(wine_releases.a)
    result = CliRunner().invoke(
        cli,
        ["bandit", "update", "--db", f"sqlite:///{tmp_path / 'b.db'}", "--site", str(site.root)],
    )
    assert result.exit_code == 1
    assert "No bandit is running" in result.output


def test_each_update_records_which_arms_are_shown_worse_than_the_leader():
    current = {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    outcomes = {"a": (900, 100), "b": (600, 400), "c": (890, 110)}
    shares, decision = decide(current, outcomes, Guardrails(), seed=1)
    checks = decision["against_leader"]
    assert checks["leader"] == "a"
    assert checks["b"]["shown_worse"] and checks["b"]["interval"][1] < 0
    close = checks["c"]
    assert not close["shown_worse"] and close["interval"][0] < 0 < close["interval"][1]
    assert close["needed"] is not None and close["needed"] > 0
    assert decision["retired"] == ["b"] and shares["b"] == 0.0
    assert shares["a"] + shares["c"] == pytest.approx(1.0) and min(shares.values()) == 0.0


def test_a_retired_arm_stays_retired_when_its_counts_leave_the_window():
    shares, decision = decide({"a": 0.0, "b": 0.4, "c": 0.6}, {"b": (50, 50)}, Guardrails(), 1)
    assert shares["a"] == 0.0 and decision["live"] == ["b", "c"] and decision["retired"] == []


def test_the_last_arm_left_is_named_for_promotion():
    _, decision = decide({"a": 0.5, "b": 0.5}, {"a": (900, 100), "b": (300, 700)}, Guardrails())
    assert describe_guardrail(decision) == [
        "Retired b: shown worse than a (difference in the rate of right outcomes "
        + "{:+.3f} to {:+.3f}, 95% anytime-valid); its share is now 0.".format(
            *decision["against_leader"]["b"]["interval"]
        ),
        "Only a is left: end the bandit with `staticml promote a`.",
    ]


def retirements(rng: random.Random, looks: int, batch: int) -> set[str]:
    """One bandit of three arms, two equal and best (80%) and one worse (75%), its guardrail
    checked after every batch of outcomes: the arms it retired."""
    rates = {"best": 0.8, "also best": 0.8, "worse": 0.75}
    totals = dict.fromkeys(rates, (0, 0))
    live = set(rates)
    for _ in range(looks):
        for arm in live:
            right = sum(rng.random() < rates[arm] for _ in range(batch))
            totals[arm] = (totals[arm][0] + right, totals[arm][1] + batch - right)
        checks = against_leader({arm: totals[arm] for arm in live}, arms=len(rates))
        live -= {arm for arm in live if checks.get(arm, {}).get("shown_worse")}
    return set(rates) - live


def test_looking_after_every_batch_rarely_retires_a_best_arm():
    """The guardrail's anytime validity, simulated: 100 seeded bandits, each looked at after
    every one of 20 batches of 150 outcomes per arm: a best arm is retired in at most 5%, and
    the arm 5 points worse in most."""
    rng = random.Random(2026)
    runs = [retirements(rng, looks=20, batch=150) for _ in range(100)]
    best = sum(bool(retired & {"best", "also best"}) for retired in runs)
    worse = sum("worse" in retired for retired in runs)
    print(f"of 100 runs, a best arm was retired in {best}, the worse arm in {worse}")
    assert best <= 5 and worse >= 50


def test_without_two_arms_with_outcomes_there_is_no_comparison():
    _, decision = decide({"a": 0.5, "b": 0.5}, {"a": (10, 0)}, Guardrails(), seed=1)
    assert decision["against_leader"] == {}
