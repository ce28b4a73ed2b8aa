"""The verdicts' error rates under continuous monitoring, by seeded simulation.

Each run is a canary at 10% looked at after every batch of 260 canary outcomes (and the 2,340
stable outcomes that come with them), as `staticml watch` from cron does, until it decides.
The targets are issue 19's: an equal canary promoted in at least 80% of runs within 3,000
canary outcomes and rolled back in at most 5%; a canary 5 points worse never promoted in
more than 5% of runs, however long it runs.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from staticml.collector.verdicts import (
    A_BETTER,
    DROP,
    PROMOTE,
    ROLLBACK,
    START,
    UNDECIDED,
    WAIT,
    Counts,
    agreement_verdict,
    canary_verdict,
    pair_verdict,
)

BATCH, SHARE, STABLE_RATE = 260, 0.1, 0.80
STABLE_BATCH = round(BATCH * (1 - SHARE) / SHARE)


def watched(canary_rate: float, runs: int, looks: int, seed: int) -> Counter[tuple[str, int]]:
    """(decision, canary outcomes when it was taken) of each run; ("wait", n) if none."""
    rng = np.random.default_rng(seed)
    canary = rng.binomial(BATCH, canary_rate, (runs, looks)).cumsum(axis=1)
    stable = rng.binomial(STABLE_BATCH, STABLE_RATE, (runs, looks)).cumsum(axis=1)
    outcomes: Counter[tuple[str, int]] = Counter()
    for c_run, s_run in zip(canary, stable, strict=True):
        decision, n = WAIT, 0
        for look in range(looks):
            n = BATCH * (look + 1)
            verdict = canary_verdict(
                Counts(int(s_run[look]), STABLE_BATCH * (look + 1)), Counts(int(c_run[look]), n)
            )
            if verdict.decision != WAIT:
                decision = verdict.decision
                break
        outcomes[decision, n] += 1
    return outcomes


def share(outcomes: Counter[tuple[str, int]], decision: str, within: int = 10**9) -> float:
    taken = sum(count for (d, n), count in outcomes.items() if d == decision and n <= within)
    return taken / sum(outcomes.values())


def test_an_equal_canary_is_promoted_within_3000_outcomes_and_seldom_rolled_back():
    outcomes = watched(STABLE_RATE, runs=300, looks=24, seed=1)
    assert share(outcomes, PROMOTE, within=3000) >= 0.8
    assert share(outcomes, ROLLBACK) <= 0.05


def test_a_canary_5_points_worse_is_rolled_back_not_promoted():
    outcomes = watched(0.75, runs=300, looks=24, seed=2)
    assert share(outcomes, PROMOTE) <= 0.05
    assert share(outcomes, ROLLBACK) >= 0.9


def test_a_canary_worse_by_the_margin_is_promoted_at_most_at_the_error_rate():
    """At exactly -margin (3 points) the promotion guarantee is tightest."""
    outcomes = watched(0.77, runs=300, looks=40, seed=3)
    assert share(outcomes, PROMOTE) <= 0.05


def test_an_undecided_canary_says_how_many_outcomes_it_still_needs():
    verdict = canary_verdict(Counts(1800, 2250), Counts(200, 250))
    assert verdict.decision == WAIT and verdict.needed is not None and verdict.needed > 250
    assert "more canary outcomes at the current rates" in verdict.needs()

    def at(canary_n: int) -> str:  # the same rates (80% each) and the same 10% share
        canary_n -= canary_n % 5
        return canary_verdict(
            Counts(36 * canary_n // 5, 9 * canary_n), Counts(4 * canary_n // 5, canary_n)
        ).decision

    assert at(250 + verdict.needed + 5) == PROMOTE
    assert at(250 + int(verdict.needed * 0.95)) == WAIT


def test_pair_verdicts_name_the_better_variant_only_when_shown():
    assert pair_verdict(Counts(800, 1000), Counts(500, 1000)).decision == A_BETTER
    close = pair_verdict(Counts(520, 1000), Counts(500, 1000))
    assert close.decision == UNDECIDED and close.needed is not None and close.needed > 0
    assert pair_verdict(Counts(500, 1000), Counts(500, 1000)).needed is None


def test_shadow_agreement_is_judged_by_its_bounds_not_its_point_estimate():
    assert agreement_verdict(Counts(230, 240), 0.9).decision == WAIT  # 95.8%, bound under 90%
    assert agreement_verdict(Counts(960, 1000), 0.9).decision == START
    assert agreement_verdict(Counts(800, 1000), 0.9).decision == DROP
    assert agreement_verdict(Counts(905, 1000), 0.9).decision == WAIT  # above 90%, not shown
