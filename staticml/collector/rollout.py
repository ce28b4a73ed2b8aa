"""Rollout summaries (docs/summaries.md): shadow comparisons and feedback counts of a release.

Strict like drift summaries: only the contract's keys, counts consistent with each other, for
releases the collector knows. A summary becomes `(metric, count)` cells merged by addition.
With `dp` (local differential privacy, as for drift summaries) each count may be off by the
noise bound and the counts need not add up; merged counts are clamped at zero when read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from staticml.baseline import Baseline
from staticml.collector.errors import InvalidRequest
from staticml.collector.validate import (
    DP_NOISE_BOUND,
    MAX_N,
    _epsilon,
    _exact_keys,
    _integer,
    _json,
    _object,
    check_hour,
    check_id,
    unknown_release,
)

VERSION = 1
LATENCY_BINS = 13  # static/rollout.js LATENCY_EDGES_MS: 12 edges, 13 bins
_KEYS = ("v", "id", "release", "hour", "shadow", "feedback", "dp")
_REQUIRED = frozenset(_KEYS) - {"id", "dp"}
_SHADOW_KEYS = ("release", "n", "agree", "confusion", "latency")


@dataclass(frozen=True)
class _Range:
    """The counts a summary may hold: exact, or within the noise bound of local DP."""

    noise: int | None = None

    def check(self, value: object, key: str, high: int = MAX_N) -> int:
        low, top = (0, high) if self.noise is None else (-self.noise, high + self.noise)
        if not _integer(value) or not low <= value <= top:  # type: ignore[operator]
            raise InvalidRequest(key, f"is {value!r}; expected an integer from {low} to {top}.")
        return int(value)  # type: ignore[call-overload]

    def total(self, counts: list[int], n: int, key: str) -> None:
        if self.noise is None and sum(counts) != n:
            raise InvalidRequest(key, f"adds up to {sum(counts)}, not n = {n}.")


@dataclass(frozen=True)
class RolloutSummary:
    release: str
    hour: str
    cells: tuple[tuple[str, int], ...]
    id: str | None = None  # random per summary (never per device): a repeat is merged once


def parse_rollout(body: bytes, baselines: Mapping[str, Baseline], now: datetime) -> RolloutSummary:
    data = _object(_json(body), "summary")
    rule = (
        "a rollout summary has exactly "
        + ", ".join(k for k in _KEYS if k in _REQUIRED)
        + ", optionally id and dp"
    )
    _exact_keys(data, _KEYS, _REQUIRED, "", rule)
    if not _integer(data["v"]) or data["v"] != VERSION:
        raise InvalidRequest("v", f"is {data['v']!r}; this collector reads version {VERSION}.")
    release = _known(data["release"], baselines, "release")
    hour = check_hour(data["hour"], now)
    if data["shadow"] is None and data["feedback"] is None:
        raise InvalidRequest("shadow", "and feedback are both null: nothing to count.")
    epsilon = _epsilon(data.get("dp"))
    counts = _Range(None if epsilon is None else math.ceil(DP_NOISE_BOUND / epsilon))
    cells: list[tuple[str, int]] = []
    if data["feedback"] is not None:
        cells += _feedback(data["feedback"], counts)
    if data["shadow"] is not None:
        cells += _shadow(data["shadow"], baselines, release, counts)
    kept = tuple((m, c) for m, c in cells if c)
    return RolloutSummary(release, hour, kept, check_id(data.get("id")))


def _known(value: object, baselines: Mapping[str, Baseline], key: str) -> str:
    if not isinstance(value, str) or value not in baselines:
        raise unknown_release(key, value)
    return value


def _feedback(value: object, counts: _Range) -> list[tuple[str, int]]:
    data = _object(value, "feedback")
    _exact_keys(
        data, ("right", "wrong"), frozenset({"right", "wrong"}), "feedback.", "right and wrong"
    )
    right = counts.check(data["right"], "feedback.right")
    wrong = counts.check(data["wrong"], "feedback.wrong")
    if counts.noise is None and right + wrong > MAX_N:
        raise InvalidRequest("feedback", f"counts {right + wrong} outcomes; at most {MAX_N}.")
    return [("feedback:right", right), ("feedback:wrong", wrong)]


def _shadow(
    value: object, baselines: Mapping[str, Baseline], release: str, counts: _Range
) -> list[tuple[str, int]]:
    data = _object(value, "shadow")
    _exact_keys(data, _SHADOW_KEYS, frozenset(_SHADOW_KEYS), "shadow.", "the shadow's counts")
    shadow = _known(data["release"], baselines, "shadow.release")
    if shadow == release:
        raise InvalidRequest("shadow.release", "is the primary release itself.")
    n = counts.check(data["n"], "shadow.n")
    if counts.noise is None and n < 1:
        raise InvalidRequest("shadow.n", "is 0; send a shadow part only with comparisons.")
    prefix = f"shadow:{shadow}:"
    agree = counts.check(data["agree"], "shadow.agree", n if counts.noise is None else MAX_N)
    cells = [(prefix + "n", n), (prefix + "agree", agree)]
    cells += _confusion(data["confusion"], baselines[release], n, prefix, counts)
    latency = _object(data["latency"], "shadow.latency")
    _exact_keys(
        latency,
        ("primary", "shadow"),
        frozenset({"primary", "shadow"}),
        "shadow.latency.",
        "primary and shadow",
    )
    for side in ("primary", "shadow"):
        row = _row(latency[side], LATENCY_BINS, n, f"shadow.latency.{side}", counts)
        cells += [(f"{prefix}latency:{side}:{i}", c) for i, c in enumerate(row)]
    return cells


def _confusion(
    value: object, baseline: Baseline, n: int, prefix: str, counts: _Range
) -> list[tuple[str, int]]:
    output = baseline.output
    if output.kind != "categorical":
        if value is not None:
            raise InvalidRequest("shadow.confusion", "must be null for a regression model.")
        return []
    size = output.bins
    if not isinstance(value, list) or len(value) != size:
        raise InvalidRequest(
            "shadow.confusion", f"must be {size} rows of {size} counts (classes and other)."
        )
    rows = [_row(row, size, None, f"shadow.confusion[{i}]", counts) for i, row in enumerate(value)]
    counts.total([sum(row) for row in rows], n, "shadow.confusion")
    return [
        (f"{prefix}confusion:{i}:{j}", c) for i, row in enumerate(rows) for j, c in enumerate(row)
    ]


def _row(value: object, size: int, total: int | None, key: str, counts: _Range) -> list[int]:
    if not isinstance(value, list) or len(value) != size:
        raise InvalidRequest(key, f"must be a list of {size} counts.")
    row = [counts.check(c, f"{key}[{i}]") for i, c in enumerate(value)]
    if total is not None:
        counts.total(row, total, key)
    return row


def cells_by_metric(rows: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """Merged counts: `{release: {metric: count}}` from (release, metric, count) rows, clamped
    at zero once merged (noisy summaries can make a total negative)."""
    merged: dict[str, dict[str, int]] = {}
    for release, metric, count in rows:
        bucket = merged.setdefault(release, {})
        bucket[metric] = bucket.get(metric, 0) + int(count)
    return {
        release: {metric: max(0, count) for metric, count in bucket.items()}
        for release, bucket in merged.items()
    }
