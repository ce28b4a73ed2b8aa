"""Does local differential privacy (`monitor.epsilon`) hide drift? Detection and false alarms.

    .venv/bin/python bench/dp_drift.py                  # about a minute, seeded
    .venv/bin/python bench/dp_drift.py --reps 10 --out /tmp/results.md

A synthetic numeric feature `x`, N(0, 1) in 2,000 training rows, gets the project's baseline
(`staticml.baseline.compute_baseline`: 10 bins at the training quantiles). Each trial makes a
previous window from N(0, 1) and current windows from N(0, 1) (no shift), N(0.5, 1) (half a
standard deviation, population PSI about 0.25) and N(0.3, 1) (PSI about 0.09), each of N predictions cut into
summaries of k = 20 (`monitor.min_predictions`' default). Every summary's counts get the page's
noise (`staticml.runtime.monitor.Monitor._noisy`: two-sided geometric, P(k) ∝ exp(-ε|k|), on
every count), the summaries are merged by addition as the store does, and
`staticml.collector.report.drift_report` (PSI, Jensen–Shannon distance, their verdicts) judges
`x` as the collector and `staticml drift` would: its verdict is the worse of skew (against the
baseline) and drift (against the previous window). The exact counts of each trial are the same
for every ε, so the settings differ only by the noise.

The 0.5 SD shift is detected by an `alert` (PSI ≥ 0.2, what `staticml drift --fail-on
psi>=0.2`, the default, fails on), the 0.3 SD shift by a `warn` or `alert` (PSI ≥ 0.1 or
JS ≥ 0.1); without a shift either is a false alarm. Rates have 95% Wilson intervals. Writes its section
of `bench/results.md` with `--out`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from staticml.baseline import Baseline, compute_baseline
from staticml.collector.report import drift_report
from staticml.collector.storage import MISSING_BIN, OUTPUT, HourTally, Total, feature_key, total_of
from staticml.runtime.monitor import Monitor, bin_of

EPSILONS: tuple[float | None, ...] = (None, 8.0, 4.0, 2.0, 1.0)
SIZES = (200, 1_000, 10_000, 100_000)
K = 20
SHIFT = 0.5  # population PSI about 0.25: an alert
SMALL_SHIFT = 0.3  # population PSI about 0.09: a warning at most
TRAINING_ROWS = 2_000
RELEASE = "bench"
NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
PREVIOUS_HOUR, CURRENT_HOUR = "2026-11-28T18", "2026-11-29T18"
WARNED = ("warn", "alert")
SECTION = "# Local differential privacy and drift detection"


@dataclass(frozen=True)
class Setting:
    epsilon: float | None
    size: int


@dataclass
class Tally:
    trials: int = 0
    detected: int = 0
    false_alarms: int = 0
    warned: int = 0  # the small shift: warn or alert
    false_warnings: int = 0


class WindowStore:
    """The two hours a trial's report reads, as the store would return them."""

    def __init__(self, tallies: Sequence[HourTally]) -> None:
        self.tallies = list(tallies)

    def read(self, release: str, start: str, end: str) -> list[HourTally]:
        return [t for t in self.tallies if start <= t.hour < end]

    def read_totals(self, release: str, spans: Sequence[tuple[str, str]]) -> list[Total]:
        return [total_of(self.tallies, start, end) for start, end in spans]


def make_baseline(rng: np.random.Generator) -> Baseline:
    x = rng.normal(0.0, 1.0, TRAINING_ROWS).tolist()
    label = rng.choice(["a", "b"], TRAINING_ROWS).tolist()
    return compute_baseline({"x": x}, ("label", label))


def monitor_spec(baseline: Baseline, epsilon: float | None) -> dict[str, Any]:
    feature = baseline.features[0]
    return {
        "release": RELEASE,
        "k": K,
        "epsilon": epsilon,
        "features": [
            {"name": "x", "kind": "numeric", "edges": list(feature.edges), "source": ["field", "x"]}
        ],
        "output": {
            "name": "label",
            "kind": "categorical",
            "categories": list(baseline.output.categories),
        },
    }


def summary_counts(
    values: np.ndarray, labels: np.ndarray, edges: Sequence[float], categories: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-summary counts (summaries × bins) of x and of the output, k values each."""
    bins = np.searchsorted(np.asarray(edges), values, side="right")  # bin_of's bisect_right
    summary = np.arange(len(values)) // K
    x = np.zeros((len(values) // K, len(edges) + 1), dtype=np.int64)
    np.add.at(x, (summary, bins), 1)
    out = np.zeros((len(values) // K, categories + 1), dtype=np.int64)
    np.add.at(out, (summary, labels), 1)
    return x, out


def check_binning(edges: Sequence[float], rng: np.random.Generator) -> None:
    values = rng.normal(0.0, 1.5, 2_000)
    x, _ = summary_counts(values, np.zeros(len(values), dtype=np.int64), edges, 2)
    expected = np.zeros_like(x)
    variable = {"kind": "numeric", "edges": list(edges)}
    for i, value in enumerate(values):
        expected[i // K, bin_of(variable, float(value))] += 1
    if not np.array_equal(x, expected):
        raise SystemExit("numpy binning disagrees with staticml.runtime.monitor.bin_of")


def noisy_tally(
    monitor: Monitor, hour: str, x: np.ndarray, out: np.ndarray, size: int
) -> HourTally:
    """Every summary noised by the page's own code, then merged by addition."""
    cells: dict[tuple[str, int], int] = {}
    for key, counts in ((feature_key("x"), x), (OUTPUT, out)):
        merged = np.zeros(counts.shape[1] + 1, dtype=np.int64)  # the last one counts missing
        for row in counts.tolist():
            merged += monitor._noisy([*row, 0])  # exact: nothing is missing
        for bin_, count in enumerate(merged.tolist()):
            index = MISSING_BIN if bin_ == counts.shape[1] else bin_
            cells[(key, index)] = count
    summaries = size // K
    return HourTally(hour, size, summaries, summaries if monitor.epsilon else 0, cells)


def verdict_of_x(baseline: Baseline, tallies: Sequence[HourTally]) -> str:
    report = drift_report(WindowStore(tallies), RELEASE, baseline, "24h", now=NOW)
    return report.features[0].verdict


def window(
    rng: np.random.Generator, size: int, shift: float, edges: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    values = rng.normal(shift, 1.0, size)
    labels = rng.integers(0, 2, size)  # the output does not move: only x can alarm
    return summary_counts(values, labels, edges, 2)


def run(reps: dict[int, int], seed: int) -> dict[Setting, Tally]:
    rng = np.random.default_rng(seed)
    baseline = make_baseline(rng)
    edges = baseline.features[0].edges
    check_binning(edges, rng)
    monitors = {
        eps: Monitor(monitor_spec(baseline, eps), rng=random.Random(seed + i))
        for i, eps in enumerate(EPSILONS)
    }
    results = {Setting(eps, size): Tally() for size in SIZES for eps in EPSILONS}
    for size in SIZES:
        for _ in range(reps[size]):
            previous = window(rng, size, 0.0, edges)
            currents = [window(rng, size, shift, edges) for shift in (0.0, SHIFT, SMALL_SHIFT)]
            for eps, monitor in monitors.items():
                before = noisy_tally(monitor, PREVIOUS_HOUR, *previous, size)
                null, moved, nudged = (
                    verdict_of_x(baseline, [before, noisy_tally(monitor, CURRENT_HOUR, *c, size)])
                    for c in currents
                )
                tally = results[Setting(eps, size)]
                tally.trials += 1
                tally.detected += moved == "alert"
                tally.warned += nudged in WARNED
                tally.false_alarms += null == "alert"
                tally.false_warnings += null in WARNED
    return results


def rate(hits: int, trials: int) -> str:
    interval = binomtest(hits, trials).proportion_ci(method="wilson")
    low, high = interval.low, interval.high
    return f"{hits / trials:.0%} [{low:.0%}, {high:.0%}]"


def table(results: dict[Setting, Tally]) -> str:
    lines = [
        f"| ε | predictions per window | trials | {SHIFT} SD shift: alert "
        f"| {SMALL_SHIFT} SD shift: warn or alert | no shift: alert | no shift: warn or alert |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting, t in results.items():
        eps = "off" if setting.epsilon is None else f"{setting.epsilon:g}"
        lines.append(
            f"| {eps} | {setting.size:,} | {t.trials} | {rate(t.detected, t.trials)} "
            f"| {rate(t.warned, t.trials)} | {rate(t.false_alarms, t.trials)} "
            f"| {rate(t.false_warnings, t.trials)} |"
        )
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else ""
    start = old.find(SECTION)
    if start < 0:
        path.write_text(old.rstrip("\n") + "\n\n" + text + "\n")
        return
    end = old.find("\n# ", start + len(SECTION))
    path.write_text(old[:start] + text + ("\n" + old[end:] if end >= 0 else "\n"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reps", type=int, default=None, help="trials per setting (all sizes)")
    parser.add_argument("--out", type=Path, help="write the section into this results file")
    args = parser.parse_args(argv)
    reps = (
        {size: args.reps for size in SIZES}
        if args.reps
        else {200: 300, 1_000: 200, 10_000: 50, 100_000: 10}
    )
    started = time.perf_counter()
    results = run(reps, args.seed)
    text = (
        f"{SECTION}\n\n`bench/dp_drift.py --seed {args.seed}` (k = {K}, 10 bins, "
        f"{TRAINING_ROWS:,}-row baseline; {time.perf_counter() - started:.0f} s):\n\n"
        + table(results)
        + "\n\nWhat it means, and why `monitor.epsilon` stays off by default: "
        "[docs/summaries.md](../docs/summaries.md#local-differential-privacy-stays-off-by-default-measured)."
    )
    print(text)
    if args.out:
        write_section(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
