"""Drift statistics: known values, bounds, symmetry, and the verdict rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticml.drift import (
    NOT_ENOUGH_DATA,
    Thresholds,
    chi_square_p,
    clamp,
    compare,
    js_distance,
    proportions,
    psi,
    worst,
)

histograms = st.integers(2, 12).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 5000), min_size=k, max_size=k),
        st.lists(st.integers(0, 5000), min_size=k, max_size=k),
    )
)


def test_identical_distributions_do_not_drift():
    assert psi([100, 200, 300], [10, 20, 30]) == pytest.approx(0, abs=0.01)
    assert js_distance([100, 200, 300], [10, 20, 30]) == pytest.approx(0)
    assert chi_square_p([100, 200, 300], [10, 20, 30]) == pytest.approx(1)


def test_psi_matches_the_textbook_formula():
    p, q = [0.5, 0.5], [0.9, 0.1]
    expected = sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))
    assert psi([5000, 5000], [9000, 1000], smoothing=0) == pytest.approx(expected)
    assert psi([5000, 5000], [9000, 1000]) == pytest.approx(expected, rel=1e-3)


def test_smoothing_keeps_psi_finite_for_empty_bins():
    assert math.isfinite(psi([100, 0], [0, 100]))


def test_disjoint_distributions_are_one_apart():
    assert js_distance([10, 0], [0, 10]) == pytest.approx(1)


def test_js_distance_of_a_known_pair():
    # p = (1/2, 1/2), q = (1, 0), mixture m = (3/4, 1/4).
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    assert js_distance([1, 1], [1, 0]) == pytest.approx(math.sqrt((kl_p + kl_q) / 2))


def test_chi_square_finds_a_real_difference():
    assert chi_square_p([500, 500], [600, 400]) < 1e-4
    assert chi_square_p([500, 500], [505, 495]) > 0.5


def test_chi_square_of_an_empty_side_is_one():
    assert chi_square_p([10, 20], [0, 0]) == 1.0


def test_dp_noise_below_zero_is_clamped():
    assert clamp([3, -2, 0]) == [3.0, 0.0, 0.0]
    assert proportions([3, -2, 1]) == [0.75, 0.0, 0.25]


@given(histograms)
def test_statistics_stay_in_their_ranges(pair):
    reference, current = pair
    assert psi(reference, current) >= 0
    assert 0 <= js_distance(reference, current) <= 1
    assert 0 <= chi_square_p(reference, current) <= 1


@given(histograms)
def test_psi_and_js_are_symmetric(pair):
    reference, current = pair
    assert psi(reference, current) == pytest.approx(psi(current, reference))
    assert js_distance(reference, current) == pytest.approx(js_distance(current, reference))


@given(histograms, st.integers(2, 50))
def test_scale_does_not_matter(pair, factor):
    reference, current = pair
    scaled = [c * factor for c in current]
    assert js_distance(reference, scaled) == pytest.approx(
        js_distance(reference, current), abs=1e-9
    )


def test_different_bins_are_a_bug():
    with pytest.raises(ValueError, match="different bins"):
        psi([1, 2], [1, 2, 3])


def test_verdicts_follow_the_thresholds():
    def judged(reference, current, n=1000):
        return compare(reference, current, reference_n=n, current_n=n, categorical=False).verdict

    assert judged([500, 500], [500, 500]) == "ok"
    assert judged([500, 500], [600, 400]) == "ok"  # PSI 0.040, JS 0.085
    assert judged([500, 500], [620, 380]) == "warn"  # PSI 0.058, but JS 0.10
    assert judged([500, 500], [700, 300]) == "warn"  # PSI 0.17
    assert judged([500, 500], [100, 900]) == "alert"  # PSI 0.88
    assert judged([500, 500], [100, 900], n=199) == NOT_ENOUGH_DATA


def test_not_enough_data_computes_nothing():
    result = compare([5, 5], [9, 1], reference_n=10, current_n=10, categorical=True)
    assert (result.psi, result.js, result.p_value, result.verdict) == (
        None,
        None,
        None,
        NOT_ENOUGH_DATA,
    )


def test_p_values_only_for_categorical_variables():
    numeric = compare([500, 500], [600, 400], reference_n=1000, current_n=1000, categorical=False)
    categorical = compare(
        [500, 500], [600, 400], reference_n=1000, current_n=1000, categorical=True
    )
    assert numeric.p_value is None and categorical.p_value is not None


def test_thresholds_are_configurable():
    strict = Thresholds(psi_warn=0.01, psi_alert=0.02, js_warn=0.5, min_n=10)
    result = compare(
        [500, 500], [550, 450], reference_n=20, current_n=20, categorical=False, thresholds=strict
    )
    assert result.verdict == "warn"


def test_the_worst_verdict_wins():
    assert worst(["ok", NOT_ENOUGH_DATA, "warn"]) == "warn"
    assert worst([NOT_ENOUGH_DATA, "ok"]) == "ok"
    assert worst([NOT_ENOUGH_DATA]) == NOT_ENOUGH_DATA
    assert worst([]) == NOT_ENOUGH_DATA


def test_a_small_training_baseline_still_gets_a_verdict_but_a_small_window_does_not():
    from staticml.drift import compare

    even = [10] * 10
    shifted = [0] * 5 + [20] * 5
    skew = compare(
        even, shifted, reference_n=124, current_n=600, categorical=False, reference_is_baseline=True
    )
    assert skew.verdict == "alert"
    tiny = compare(
        even, shifted, reference_n=40, current_n=600, categorical=False, reference_is_baseline=True
    )
    assert tiny.verdict == "not enough data"
    drift = compare(even, shifted, reference_n=124, current_n=600, categorical=False)
    assert drift.verdict == "not enough data", "a previous window of 124 predictions is too few"
