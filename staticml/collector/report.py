"""The drift report of a release over a time window: skew against the baseline, drift in time.

The *current* window is the `window` hours ending with the current (partial) hour; the
*previous* window is the same length just before it. Skew compares the current window with
the training baseline; drift compares it with the previous window. Missing values count as
one more bin, so a change in how often a value is missing is drift too. A classifier's report
also estimates the current window's accuracy without labels (`staticml.collector.accuracy`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from staticml.baseline import Baseline, Variable
from staticml.collector.accuracy import AccuracyEstimate, estimate_accuracy
from staticml.collector.errors import InvalidRequest
from staticml.collector.storage import MISSING_BIN, OUTPUT, Store, Total, feature_key
from staticml.collector.validate import HOUR_FORMAT
from staticml.drift import (
    DEFAULT_THRESHOLDS,
    Comparison,
    Thresholds,
    clamp,
    compare,
    psi,
    worst,
)

MAX_WINDOW_HOURS = 24 * 366
HISTORY_POINTS = 12
_WINDOW = re.compile(r"([1-9][0-9]{0,5})([hd])")


@dataclass(frozen=True)
class Span:
    start: str
    end: str
    n: int
    summaries: int
    dp: bool


@dataclass(frozen=True)
class VariableReport:
    name: str
    role: str
    kind: str
    bins: tuple[str, ...]
    baseline: tuple[float, ...]
    current: tuple[float, ...]
    previous: tuple[float, ...]
    skew: Comparison
    drift: Comparison

    @property
    def verdict(self) -> str:
        return worst([self.skew.verdict, self.drift.verdict])


@dataclass(frozen=True)
class DriftReport:
    release: str
    window: str
    current: Span
    previous: Span
    thresholds: Thresholds
    features: tuple[VariableReport, ...]
    output: VariableReport
    accuracy: AccuracyEstimate | None = None  # None: the baseline has no confidence bins

    @property
    def variables(self) -> tuple[VariableReport, ...]:
        return (*self.features, self.output)

    @property
    def verdict(self) -> str:
        return worst([v.verdict for v in self.variables])

    def to_json(self) -> dict[str, Any]:
        def variable(v: VariableReport) -> dict[str, Any]:
            return {**asdict(v), "verdict": v.verdict}

        return {
            "release": self.release,
            "window": self.window,
            "verdict": self.verdict,
            "current": asdict(self.current),
            "previous": asdict(self.previous),
            "thresholds": asdict(self.thresholds),
            "features": [variable(v) for v in self.features],
            "output": variable(self.output),
            "estimated_accuracy": None if self.accuracy is None else asdict(self.accuracy),
        }


def parse_window(text: str) -> int:
    """`24h`, `7d` → hours."""
    match = _WINDOW.fullmatch(text.strip())
    hours = int(match[1]) * (24 if match[2] == "d" else 1) if match else 0
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise InvalidRequest(
            "window",
            f"is {text!r}; expected hours or days like 1h, 24h or 7d, at most {MAX_WINDOW_HOURS}h.",
        )
    return hours


def hour_label(moment: datetime) -> str:
    return moment.strftime(HOUR_FORMAT)


def current_end(now: datetime) -> datetime:
    """The end (excluded) of the current hour."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def drift_report(
    store: Store,
    release: str,
    baseline: Baseline,
    window: str,
    *,
    now: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> DriftReport:
    hours = parse_window(window)
    end = current_end(now or datetime.now(UTC))
    start, previous_start = end - timedelta(hours=hours), end - timedelta(hours=2 * hours)
    current, previous = store.read_totals(
        release, [_labels(start, end), _labels(previous_start, start)]
    )
    variables = [
        _variable_report(variable, key, current, previous, baseline.rows, thresholds)
        for variable, key in variables_of(baseline)
    ]
    return DriftReport(
        release,
        window,
        span_of(current),
        span_of(previous),
        thresholds,
        tuple(variables[:-1]),
        variables[-1],
        None
        if baseline.confidence is None
        else estimate_accuracy(current, baseline.confidence, thresholds.min_n),
    )


def psi_history(
    store: Store,
    release: str,
    baseline: Baseline,
    window: str,
    *,
    points: int = HISTORY_POINTS,
    now: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[tuple[str, dict[str, float | None]]]:
    """Skew PSI over the last `points` windows: (window end, {variable key: PSI or None})."""
    history = []
    for total in _last_windows(store, release, window, points, now):
        enough = total.n >= thresholds.min_n
        values = {
            key: psi(baseline_histogram(v), histogram(total, key, v.bins)) if enough else None
            for v, key in variables_of(baseline)
        }
        history.append((total.end, values))
    return history


def accuracy_history(
    store: Store,
    release: str,
    baseline: Baseline,
    window: str,
    *,
    points: int = HISTORY_POINTS,
    now: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[tuple[str, AccuracyEstimate]]:
    """The estimated accuracy over the last `points` windows: (window end, estimate); empty
    when the baseline has no confidence bins."""
    if baseline.confidence is None:
        return []
    return [
        (total.end, estimate_accuracy(total, baseline.confidence, thresholds.min_n))
        for total in _last_windows(store, release, window, points, now)
    ]


def _last_windows(
    store: Store, release: str, window: str, points: int, now: datetime | None
) -> list[Total]:
    """The merged counts of the last `points` windows of `window`, oldest first."""
    hours = parse_window(window)
    end = current_end(now or datetime.now(UTC))
    ends = [end - timedelta(hours=hours * i) for i in range(points - 1, -1, -1)]
    return store.read_totals(release, [_labels(e - timedelta(hours=hours), e) for e in ends])


def variables_of(baseline: Baseline) -> list[tuple[Variable, str]]:
    """Every feature and then the output, each with its key in the store."""
    return [*((f, feature_key(f.name)) for f in baseline.features), (baseline.output, OUTPUT)]


def _labels(start: datetime, end: datetime) -> tuple[str, str]:
    return hour_label(start), hour_label(end)


def span_of(total: Total) -> Span:
    return Span(total.start, total.end, total.n, total.summaries, bool(total.dp_summaries))


def _variable_report(
    variable: Variable,
    key: str,
    current: Total,
    previous: Total,
    baseline_rows: int,
    thresholds: Thresholds,
) -> VariableReport:
    reference = baseline_histogram(variable)
    now_counts = histogram(current, key, variable.bins)
    before_counts = histogram(previous, key, variable.bins)

    def against(counts: list[int], n: int, baseline: bool = False) -> Comparison:
        categorical = variable.kind == "categorical"
        return compare(
            counts,
            now_counts,
            reference_n=n,
            current_n=current.n,
            categorical=categorical,
            thresholds=thresholds,
            reference_is_baseline=baseline,
        )

    return VariableReport(
        variable.name,
        OUTPUT if key == OUTPUT else "feature",
        variable.kind,
        bin_labels(variable),
        _proportions(reference),
        _proportions(now_counts),
        _proportions(before_counts),
        skew=against(reference, baseline_rows, baseline=True),
        drift=against(before_counts, previous.n),
    )


def baseline_histogram(variable: Variable) -> list[int]:
    return [*variable.counts, variable.missing]


def histogram(total: Total, key: str, bins: int) -> list[int]:
    """Merged counts of one variable: its `bins` bins, then missing."""
    counts = [0] * (bins + 1)
    for (variable, bin_), count in total.cells.items():
        if variable == key and (bin_ == MISSING_BIN or 0 <= bin_ < bins):
            counts[bin_] += count  # MISSING_BIN (-1) is the last entry
    return counts


def _proportions(counts: Sequence[float]) -> tuple[float, ...]:
    clamped = clamp(counts)
    total = sum(clamped)
    return tuple(c / total if total else 0.0 for c in clamped)


def bin_labels(variable: Variable) -> tuple[str, ...]:
    if variable.kind == "categorical":
        return (*variable.categories, "other", "missing")
    edges = [f"{e:.4g}" for e in variable.edges]
    middle = [f"[{a}, {b})" for a, b in itertools.pairwise(edges)]
    return (f"< {edges[0]}", *middle, f"≥ {edges[-1]}", "missing")
