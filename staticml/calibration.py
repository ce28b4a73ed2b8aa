"""How well a classifier's top-class probability matches how often it is right.

The build measures it on the evaluation data (`measure_confidence`): per bin of top-class
probability (`CONFIDENCE_EDGES`, ten equal bins) the rows in it, their mean confidence and
their accuracy, and the expected calibration error over those bins (ECE, Guo et al. 2017:
the row-weighted mean of |accuracy - mean confidence| per bin). The collector estimates a
window's accuracy from the same bins (`staticml.collector.accuracy`), so the estimate is only
as good as this calibration, and model.html shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from staticml.baseline import CONFIDENCE_EDGES, Confidence


def top_probability(scores: np.ndarray) -> np.ndarray:
    """Each row's largest class probability (`scores` is [rows, classes])."""
    return np.asarray(scores, dtype=np.float64).max(axis=1)


def confidence_bins(top: np.ndarray, edges: Sequence[float] = CONFIDENCE_EDGES) -> np.ndarray:
    """The bin of each top-class probability, as `staticml.runtime.monitor.bin_of` bins it."""
    return np.searchsorted(np.asarray(edges), top, side="right")


def measure_confidence(top: np.ndarray, correct: np.ndarray | None, source: str) -> Confidence:
    """The calibration record of predictions with top-class probabilities `top` and, when the
    labels are known, whether each was right (`correct`)."""
    bins = confidence_bins(top)
    size = len(CONFIDENCE_EDGES) + 1
    rows = np.bincount(bins, minlength=size)
    sums = np.bincount(bins, weights=top, minlength=size)
    mean = tuple(float(s / r) if r else None for s, r in zip(sums, rows, strict=True))
    if correct is None:
        return Confidence(tuple(int(r) for r in rows), mean, None, None, source)
    hits = np.bincount(bins, weights=np.asarray(correct, dtype=np.float64), minlength=size)
    accuracy = tuple(float(h / r) if r else None for h, r in zip(hits, rows, strict=True))
    ece = float(np.sum(np.abs(hits - sums)) / max(1, len(top)))
    return Confidence(tuple(int(r) for r in rows), mean, accuracy, ece, source)
