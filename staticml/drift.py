"""Drift statistics over binned counts: PSI, Jensen–Shannon distance, chi-square, a verdict.

Every function compares a *reference* histogram (the training baseline for skew, the previous
window for drift) with a *current* one, over the same bins. Counts may come from
differentially private summaries, so they are clamped at zero before becoming proportions.

Defaults (docs/collector.md): PSI ≥ 0.1 warns and ≥ 0.2 alerts; a Jensen–Shannon distance
≥ 0.1 warns; below 200 predictions in a window (or 50 training rows in the baseline) the
verdict is "not enough data". The
chi-square p-value is reported, not judged: with thousands of predictions every tiny
difference is "significant", which is the false alarm drift tools are known for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SMOOTHING = 0.5
NOT_ENOUGH_DATA = "not enough data"
VERDICTS = (NOT_ENOUGH_DATA, "ok", "warn", "alert")  # from least to most severe


@dataclass(frozen=True)
class Thresholds:
    psi_warn: float = 0.1
    psi_alert: float = 0.2
    js_warn: float = 0.1
    min_n: int = 200
    # The training baseline is fixed rather than sampled per window; small data sets (the
    # wine example trains on 124 rows) still deserve a verdict, so it has its own floor.
    min_baseline: int = 50


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Comparison:
    """One variable, reference vs current; statistics are None when there is not enough data."""

    reference_n: int
    current_n: int
    psi: float | None
    js: float | None
    p_value: float | None
    verdict: str


def clamp(counts: Sequence[float]) -> list[float]:
    """Merged counts with the (differential privacy) noise that went below zero removed."""
    return [max(0.0, float(c)) for c in counts]


def proportions(counts: Sequence[float], smoothing: float = 0.0) -> list[float]:
    """Clamped counts as proportions; `smoothing` is added to every bin first."""
    clamped = [c + smoothing for c in clamp(counts)]
    total = sum(clamped)
    if total == 0:
        return [1 / len(clamped)] * len(clamped)
    return [c / total for c in clamped]


def psi(
    reference: Sequence[float], current: Sequence[float], smoothing: float = SMOOTHING
) -> float:
    """Population stability index, with `smoothing` added per bin so empty bins stay finite."""
    _same_bins(reference, current)
    p, q = proportions(reference, smoothing), proportions(current, smoothing)
    return sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen–Shannon distance in base 2: 0 for equal distributions, 1 for disjoint ones."""
    _same_bins(reference, current)
    p, q = proportions(reference), proportions(current)
    mixture = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    divergence = (_kl(p, mixture) + _kl(q, mixture)) / 2
    return min(1.0, math.sqrt(max(0.0, divergence)))


def _kl(p: Sequence[float], m: Sequence[float]) -> float:
    return sum(a * math.log2(a / b) for a, b in zip(p, m, strict=True) if a > 0)


def chi_square_p(reference: Sequence[float], current: Sequence[float]) -> float:
    """p-value of a chi-square test that both samples come from one distribution."""
    from scipy.stats import chi2_contingency

    _same_bins(reference, current)
    pairs = [(a, b) for a, b in zip(clamp(reference), clamp(current), strict=True) if a + b > 0]
    if len(pairs) < 2 or not all(sum(side) > 0 for side in zip(*pairs, strict=True)):
        return 1.0
    table = [[a for a, _ in pairs], [b for _, b in pairs]]
    return float(chi2_contingency(table).pvalue)


def compare(
    reference: Sequence[float],
    current: Sequence[float],
    *,
    reference_n: int,
    current_n: int,
    categorical: bool,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    reference_is_baseline: bool = False,
) -> Comparison:
    """Statistics and verdict; `*_n` are the predictions (or rows) behind each histogram.

    Windows need `min_n` predictions; a training baseline (skew) needs `min_baseline` rows.
    """
    floor = thresholds.min_baseline if reference_is_baseline else thresholds.min_n
    if current_n < thresholds.min_n or reference_n < floor:
        return Comparison(reference_n, current_n, None, None, None, NOT_ENOUGH_DATA)
    index = psi(reference, current)
    distance = js_distance(reference, current)
    p_value = chi_square_p(reference, current) if categorical else None
    return Comparison(
        reference_n, current_n, index, distance, p_value, verdict(index, distance, thresholds)
    )


def verdict(index: float, distance: float, thresholds: Thresholds) -> str:
    if index >= thresholds.psi_alert:
        return "alert"
    if index >= thresholds.psi_warn or distance >= thresholds.js_warn:
        return "warn"
    return "ok"


def worst(verdicts: Sequence[str]) -> str:
    """The most severe verdict ("not enough data" only when nothing could be judged)."""
    return max(verdicts, key=VERDICTS.index, default=NOT_ENOUGH_DATA)


def _same_bins(reference: Sequence[float], current: Sequence[float]) -> None:
    if len(reference) != len(current) or not reference:
        raise ValueError(
            f"histograms over different bins: {len(reference)} vs {len(current)} counts"
        )
