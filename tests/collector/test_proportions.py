"""Confidence sequences: hand-checked values, and time-uniform coverage by seeded simulation
(the chance of ever missing the true value, over every look, stays under alpha)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from staticml.collector.proportions import (
    ALPHA,
    difference_sequence,
    mixture_half_width,
    mixture_scale,
    needed,
    rate_sequence,
)


def test_the_beta_binomial_sequence_matches_its_closed_forms():
    # One success in one: B(2, 1) / p < 1/alpha, so p > alpha * B(2, 1) = 0.05 / 2.
    one = rate_sequence(1, 1)
    assert one is not None and one.low == pytest.approx(0.025) and one.high == 1.0
    # None in ten: B(1, 11) / (1 - p)^10 < 20, so p < 1 - (11 * 20)^(-1/10).
    none = rate_sequence(0, 10)
    assert none is not None and none.low == 0.0
    assert none.high == pytest.approx(1 - 220 ** (-1 / 10))
    assert rate_sequence(0, 0) is None


def test_a_rate_sequence_covers_the_true_rate_at_every_look():
    rng = np.random.default_rng(11)
    runs, looks, batch, rate = 200, 40, 25, 0.9
    missed = 0
    for _ in range(runs):
        successes = np.cumsum(rng.binomial(batch, rate, looks))
        for look, s in enumerate(successes, start=1):
            estimate = rate_sequence(int(s), batch * look)
            assert estimate is not None
            if not estimate.low <= rate <= estimate.high:
                missed += 1
                break
    assert missed / runs <= ALPHA


def test_each_bound_of_a_difference_sequence_holds_at_every_look():
    """Unequal arms (a 10% canary), 400 runs of 30 looks each: the lower bound ever above the
    true difference, or the upper bound ever below it, in at most alpha of the runs."""
    rng = np.random.default_rng(12)
    runs, looks, canary_batch, stable_batch = 400, 30, 100, 900
    tau2 = mixture_scale(0.03)
    canary = rng.binomial(canary_batch, 0.77, (runs, looks)).cumsum(axis=1)
    stable = rng.binomial(stable_batch, 0.80, (runs, looks)).cumsum(axis=1)
    above = below = 0
    for c_run, s_run in zip(canary, stable, strict=True):
        estimates = [
            difference_sequence(c, canary_batch * n, s, stable_batch * n, tau2)
            for n, c, s in zip(range(1, looks + 1), c_run, s_run, strict=True)
        ]
        above += any(e is not None and e.low > -0.03 for e in estimates)
        below += any(e is not None and e.high < -0.03 for e in estimates)
    assert above / runs <= ALPHA and below / runs <= ALPHA


def test_the_mixture_is_tightest_where_it_is_margin_wide():
    margin = 0.03
    tau2 = mixture_scale(margin)
    c = 2 * math.log(1 / ALPHA) + math.log(1 + 2 * math.log(1 / ALPHA))
    at = tau2 / c  # the variance the mixture is tuned for
    assert mixture_half_width(at, tau2) == pytest.approx(margin)
    assert mixture_half_width(at, tau2 / 2) > margin < mixture_half_width(at, tau2 * 2)
    assert mixture_half_width(at / 2, tau2) < margin < mixture_half_width(at * 2, tau2)


def test_outcomes_needed_are_just_enough_at_the_current_rates():
    tau2 = mixture_scale(0.03)

    def at(k: float):
        return difference_sequence(240 * k, 300 * k, 2160 * k, 2700 * k, tau2)

    def promoted(e) -> bool:
        return e.low > -0.03

    more = needed(300, at, promoted)
    assert more is not None and more > 0
    enough = at((300 + more) / 300)
    short = at((300 + more - 30) / 300)
    assert enough is not None and promoted(enough)
    assert short is not None and not promoted(short)
    assert needed(300, at, lambda e: e.low > 0 or e.high < 0) is None  # equal rates never differ


def test_nothing_to_project_from_needs_no_guess():
    assert needed(0, lambda k: rate_sequence(0, 0), lambda e: e.low > 0.5) is None
