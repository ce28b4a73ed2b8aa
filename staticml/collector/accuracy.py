"""A window's accuracy estimated without labels, from its top-class probabilities (CBPE).

Confidence-based performance estimation (the idea behind NannyML's CBPE): when the model's
probabilities are calibrated, a prediction made with top-class probability p is right with
probability p, so the expected accuracy of a window is the mean of its (calibrated)
top-class probabilities. Summaries carry a histogram of top-class probability over the bins
the build fixed (`Baseline.confidence`), and the build measured on the labelled evaluation
data how often predictions in each bin were right. Each bin's accuracy is that measured
accuracy (histogram-binning calibration, Zadrozny & Elkan 2001), shrunk towards the bin's
mean confidence by `PRIOR_ROWS` pseudo-rows so a bin with few evaluation rows stays sane;
without labels it is the bin's mean confidence (the model's calibration taken on trust).

The interval is a normal interval whose variance adds three terms:

- the outcomes: given the bins, the number right is a sum of Bernoulli draws (Poisson-
  binomial variance), times a design effect for clustering: a summary's predictions all come
  from one browser and may be one record entered *k* times, all right or all wrong, so the
  variance is multiplied by the mean predictions per summary (the worst case, *k*);
- the calibration: each bin's accuracy is a share of its evaluation rows (binomial
  variance), which no window size removes;
- local-DP noise (`monitor.epsilon`): the noise variance of every bin's count, summed over the
  window's noised summaries, carried to the estimate by the delta method.

It sees covariate shift (inputs moving to regions where the model is less sure) and nothing
else: when the relation between inputs and labels changes (concept drift) the probabilities
do not, and neither does the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

from staticml.baseline import Confidence
from staticml.collector.storage import CONFIDENCE, CONFIDENCE_NOISE, NOISE_SCALE, Total
from staticml.drift import clamp

PRIOR_ROWS = 4.0
LEVEL = 0.95
METHOD = "CBPE: mean calibrated top-class probability"


@dataclass(frozen=True)
class AccuracyEstimate:
    """The estimated accuracy of one window and its `level` interval; `value` is None when
    fewer than `min_n` of the window's predictions have a top-class probability."""

    n: int  # predictions with a top-class probability in the window (noisy with local DP)
    value: float | None
    low: float | None
    high: float | None
    level: float = LEVEL
    method: str = METHOD


def bin_accuracies(confidence: Confidence) -> list[tuple[float, float]]:
    """(accuracy, variance of that accuracy) of a prediction in each bin."""
    result = []
    for index, rows in enumerate(confidence.rows):
        mean = confidence.mean[index]
        if mean is None:
            mean = _middle(confidence.edges, index)
        measured = None if confidence.accuracy is None else confidence.accuracy[index]
        if measured is None:
            result.append((mean, 0.0))
            continue
        value = (rows * measured + PRIOR_ROWS * mean) / (rows + PRIOR_ROWS)
        result.append((value, value * (1 - value) / (rows + PRIOR_ROWS)))
    return result


def estimate_accuracy(
    total: Total, confidence: Confidence, min_n: int, level: float = LEVEL
) -> AccuracyEstimate:
    """The window `total`'s estimated accuracy and interval (see the module's docstring)."""
    counts = clamp(_counts(total, confidence.bins))
    n = sum(counts)
    if n < max(1, min_n):
        return AccuracyEstimate(round(n), None, None, None, level)
    accuracies = bin_accuracies(confidence)
    value = sum(c * a for c, (a, _) in zip(counts, accuracies, strict=True)) / n
    clustering = max(1.0, total.n / total.summaries) if total.summaries else 1.0
    outcomes = clustering * sum(
        c * a * (1 - a) for c, (a, _) in zip(counts, accuracies, strict=True)
    )
    calibration = sum(c * c * v for c, (_, v) in zip(counts, accuracies, strict=True))
    per_count = total.cells.get((CONFIDENCE_NOISE, 0), 0) / NOISE_SCALE
    noise = per_count * sum((a - value) ** 2 for a, _ in accuracies)
    spread = math.sqrt(outcomes + calibration + noise) / n
    z = float(norm.ppf(0.5 + level / 2))
    return AccuracyEstimate(
        round(n), value, max(0.0, value - z * spread), min(1.0, value + z * spread), level
    )


def _counts(total: Total, bins: int) -> list[int]:
    counts = [0] * bins
    for (variable, bin_), count in total.cells.items():
        if variable == CONFIDENCE and 0 <= bin_ < bins:
            counts[bin_] += count
    return counts


def _middle(edges: Sequence[float], index: int) -> float:
    low = 0.0 if index == 0 else edges[index - 1]
    high = 1.0 if index == len(edges) else edges[index]
    return (low + high) / 2
