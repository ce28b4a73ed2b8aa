"""Rollout summaries (docs/summaries.md): shadow comparisons and feedback counts of a release.

Strict like drift summaries: only the contract's keys, counts consistent with each other, for
releases the collector knows. A summary becomes `(metric, count)` cells merged by addition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from staticml.baseline import Baseline
from staticml.collector.errors import InvalidRequest
from staticml.collector.validate import (
    MAX_N,
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
_KEYS = ("v", "id", "release", "hour", "shadow", "feedback")
_REQUIRED = frozenset(_KEYS) - {"id"}
_SHADOW_KEYS = ("release", "n", "agree", "confusion", "latency")


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
        + ", optionally id"
    )
    _exact_keys(data, _KEYS, _REQUIRED, "", rule)
    if not _integer(data["v"]) or data["v"] != VERSION:
        raise InvalidRequest("v", f"is {data['v']!r}; this collector reads version {VERSION}.")
    release = _known(data["release"], baselines, "release")
    hour = check_hour(data["hour"], now)
    if data["shadow"] is None and data["feedback"] is None:
        raise InvalidRequest("shadow", "and feedback are both null: nothing to count.")
    cells: list[tuple[str, int]] = []
    if data["feedback"] is not None:
        cells += _feedback(data["feedback"])
    if data["shadow"] is not None:
        cells += _shadow(data["shadow"], baselines, release)
    kept = tuple((m, c) for m, c in cells if c)
    return RolloutSummary(release, hour, kept, check_id(data.get("id")))


def _known(value: object, baselines: Mapping[str, Baseline], key: str) -> str:
    if not isinstance(value, str) or value not in baselines:
        raise unknown_release(key, value)
    return value


def _count(value: object, key: str, high: int = MAX_N) -> int:
    if not _integer(value) or not 0 <= value <= high:  # type: ignore[operator]
        raise InvalidRequest(key, f"is {value!r}; expected an integer from 0 to {high}.")
    return int(value)  # type: ignore[call-overload]


def _feedback(value: object) -> list[tuple[str, int]]:
    data = _object(value, "feedback")
    _exact_keys(
        data, ("right", "wrong"), frozenset({"right", "wrong"}), "feedback.", "right and wrong"
    )
    right, wrong = _count(data["right"], "feedback.right"), _count(data["wrong"], "feedback.wrong")
    if right + wrong > MAX_N:
        raise InvalidRequest("feedback", f"counts {right + wrong} outcomes; at most {MAX_N}.")
    return [("feedback:right", right), ("feedback:wrong", wrong)]


def _shadow(
    value: object, baselines: Mapping[str, Baseline], release: str
) -> list[tuple[str, int]]:
    data = _object(value, "shadow")
    _exact_keys(data, _SHADOW_KEYS, frozenset(_SHADOW_KEYS), "shadow.", "the shadow's counts")
    shadow = _known(data["release"], baselines, "shadow.release")
    if shadow == release:
        raise InvalidRequest("shadow.release", "is the primary release itself.")
    n = _count(data["n"], "shadow.n")
    if n < 1:
        raise InvalidRequest("shadow.n", "is 0; send a shadow part only with comparisons.")
    prefix = f"shadow:{shadow}:"
    cells = [(prefix + "n", n), (prefix + "agree", _count(data["agree"], "shadow.agree", n))]
    cells += _confusion(data["confusion"], baselines[release], n, prefix)
    latency = _object(data["latency"], "shadow.latency")
    _exact_keys(
        latency,
        ("primary", "shadow"),
        frozenset({"primary", "shadow"}),
        "shadow.latency.",
        "primary and shadow",
    )
    for side in ("primary", "shadow"):
        counts = _row(latency[side], LATENCY_BINS, n, f"shadow.latency.{side}")
        cells += [(f"{prefix}latency:{side}:{i}", c) for i, c in enumerate(counts)]
    return cells


def _confusion(value: object, baseline: Baseline, n: int, prefix: str) -> list[tuple[str, int]]:
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
    rows = [_row(row, size, None, f"shadow.confusion[{i}]") for i, row in enumerate(value)]
    if sum(map(sum, rows)) != n:
        raise InvalidRequest("shadow.confusion", f"adds up to {sum(map(sum, rows))}, not n = {n}.")
    return [
        (f"{prefix}confusion:{i}:{j}", c) for i, row in enumerate(rows) for j, c in enumerate(row)
    ]


def _row(value: object, size: int, total: int | None, key: str) -> list[int]:
    if not isinstance(value, list) or len(value) != size:
        raise InvalidRequest(key, f"must be a list of {size} counts.")
    counts = [_count(c, f"{key}[{i}]") for i, c in enumerate(value)]
    if total is not None and sum(counts) != total:
        raise InvalidRequest(key, f"adds up to {sum(counts)}, not n = {total}.")
    return counts


def cells_by_metric(rows: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """Merged counts: `{release: {metric: count}}` from (release, metric, count) rows."""
    merged: dict[str, dict[str, int]] = {}
    for release, metric, count in rows:
        bucket = merged.setdefault(release, {})
        bucket[metric] = bucket.get(metric, 0) + int(count)
    return merged
