"""The rollout report: per release (variant), feedback outcome rates with their confidence
sequences and which variant of each pair is shown better; per shadow release, how often it
agreed with the primary.

Every interval is an anytime-valid 95% confidence sequence (staticml/collector/proportions.py),
so the report may be read after every batch of feedback. Pairwise verdicts read the sequence of
the difference at a Bonferroni-adjusted level (0.05 divided by the number of pairs), so
comparing many variants does not inflate false alarms either; each verdict says how many more
outcomes it would take to decide at the current rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

from staticml.collector.proportions import ALPHA, rate_sequence
from staticml.collector.report import current_end, hour_label, parse_window
from staticml.collector.rollout import cells_by_metric
from staticml.collector.storage import Store
from staticml.collector.verdicts import Counts, pair_verdict


@dataclass(frozen=True)
class Outcomes:
    right: int
    wrong: int

    @property
    def n(self) -> int:
        return self.right + self.wrong


def read_outcomes(
    store: Store, window: str, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Merged rollout counts by release and metric over the window ending with this hour."""
    end = current_end(now or datetime.now(UTC))
    start = end - timedelta(hours=parse_window(window))
    return cells_by_metric(store.read_rollout(hour_label(start), hour_label(end)))


def outcomes_of(metrics: dict[str, int]) -> Outcomes:
    return Outcomes(metrics.get("feedback:right", 0), metrics.get("feedback:wrong", 0))


def rollout_report(store: Store, window: str, now: datetime | None = None) -> dict[str, Any]:
    merged = read_outcomes(store, window, now)
    variants = {release: outcomes_of(metrics) for release, metrics in sorted(merged.items())}
    return {
        "window": window,
        "variants": {r: _rate(o) for r, o in variants.items() if o.n},
        "comparisons": _comparisons({r: o for r, o in variants.items() if o.n}),
        "shadows": {
            r: _shadows(metrics) for r, metrics in sorted(merged.items()) if _shadows(metrics)
        },
    }


def _rate(outcomes: Outcomes) -> dict[str, Any]:
    return {
        "right": outcomes.right,
        "wrong": outcomes.wrong,
        "n": outcomes.n,
        "rate": outcomes.right / outcomes.n,
        "interval": _interval(outcomes.right, outcomes.n),
    }


def _interval(successes: int, n: int) -> list[float] | None:
    estimate = rate_sequence(successes, n, ALPHA)
    return [estimate.low, estimate.high] if estimate else None


def _comparisons(variants: dict[str, Outcomes]) -> list[dict[str, Any]]:
    pairs = list(combinations(sorted(variants), 2))
    level = ALPHA / len(pairs) if pairs else ALPHA
    result = []
    for a, b in pairs:
        first, second = variants[a], variants[b]
        verdict = pair_verdict(Counts(first.right, first.n), Counts(second.right, second.n), level)
        assert verdict.estimate is not None  # both have outcomes
        result.append(
            {
                "a": a,
                "b": b,
                "difference": verdict.estimate.value,
                "interval": [verdict.estimate.low, verdict.estimate.high],
                "alpha": level,
                "verdict": {"a better": a, "b better": b}.get(verdict.decision),
                "needed": verdict.needed,
            }
        )
    return result


def _shadows(metrics: dict[str, int]) -> dict[str, Any]:
    shadows: dict[str, Any] = {}
    for metric, count in metrics.items():
        parts = metric.split(":")
        if parts[0] != "shadow":
            continue
        entry = shadows.setdefault(parts[1], {"n": 0, "agree": 0, "confusion": {}, "latency": {}})
        if parts[2] in ("n", "agree"):
            entry[parts[2]] += count
        elif parts[2] == "confusion":
            entry["confusion"][f"{parts[3]},{parts[4]}"] = count
        else:
            entry["latency"].setdefault(parts[3], {})[parts[4]] = count
    for entry in shadows.values():
        entry["agree"] = min(entry["agree"], entry["n"])  # noisy counts can disagree
        entry["agreement"] = entry["agree"] / entry["n"] if entry["n"] else None
        entry["interval"] = _interval(entry["agree"], entry["n"])
    return shadows
