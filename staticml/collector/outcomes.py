"""The rollout report: per release (variant), feedback outcome rates with 95% intervals and
which differences are significant; per shadow release, how often it agreed with the primary.

Pairwise differences use the two-proportion z-test at a Bonferroni-adjusted level (0.05
divided by the number of pairs), so testing many variants does not inflate false alarms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

from staticml.collector.proportions import two_proportion_p_value, wilson_interval
from staticml.collector.report import current_end, hour_label, parse_window
from staticml.collector.rollout import cells_by_metric
from staticml.collector.storage import Store

ALPHA = 0.05


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
    interval = wilson_interval(outcomes.right, outcomes.n)
    return {
        "right": outcomes.right,
        "wrong": outcomes.wrong,
        "n": outcomes.n,
        "rate": outcomes.right / outcomes.n,
        "ci95": list(interval) if interval else None,
    }


def _comparisons(variants: dict[str, Outcomes]) -> list[dict[str, Any]]:
    pairs = list(combinations(sorted(variants), 2))
    level = ALPHA / len(pairs) if pairs else ALPHA
    result = []
    for a, b in pairs:
        first, second = variants[a], variants[b]
        p = two_proportion_p_value(first.right, first.n, second.right, second.n)
        result.append(
            {
                "a": a,
                "b": b,
                "difference": first.right / first.n - second.right / second.n,
                "p_value": p,
                "alpha": level,
                "significant": p is not None and p < level,
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
        interval = wilson_interval(entry["agree"], entry["n"])
        entry["agreement"] = entry["agree"] / entry["n"] if entry["n"] else None
        entry["ci95"] = list(interval) if interval else None
    return shadows
