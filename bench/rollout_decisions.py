"""How often does `staticml watch` promote or roll back a canary? The anytime-valid rule
against the fixed-n rule it replaced, on the same simulated feedback.

    .venv/bin/python bench/rollout_decisions.py              # 1,000 runs per case, seeded
    .venv/bin/python bench/rollout_decisions.py --runs 200

Each run is a canary at 10% (`retrain.canary_percent`' default) beside a stable release right
80% of the time, looked at as `staticml watch` from cron does: after every batch of 260 canary
outcomes (and the 2,340 stable outcomes that come with them), until it decides or 40 looks
(10,400 canary outcomes) have passed. The counts of a run are the same for both rules.

- old rule: once the canary has `retrain.min_predictions` (200) outcomes, a pooled
  two-proportion z-test at 0.05; significantly worse rolls back, anything else promotes.
- new rule: `staticml.collector.verdicts.canary_verdict` with the defaults (margin 3 points,
  alpha 0.05): promote once the lower confidence-sequence bound of (canary - stable) is above
  -margin, roll back once the upper bound is below 0, otherwise wait.

Targets (issue 19): a canary 5 points worse promoted in at most 5% of runs; an equal canary
promoted in at least 80% of runs within 3,000 canary outcomes and rolled back in at most 5%.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from staticml.collector.verdicts import PROMOTE, ROLLBACK, WAIT, Counts, canary_verdict

BATCH, SHARE, STABLE_RATE, LOOKS, MIN_PREDICTIONS = 260, 0.1, 0.80, 40, 200
STABLE_BATCH = round(BATCH * (1 - SHARE) / SHARE)
CASES = (("5 points worse", 0.75), ("3 points worse (the margin)", 0.77), ("equal", 0.80))
Rule = Callable[[Counts, Counts], str]


def old_rule(stable: Counts, canary: Counts) -> str:
    if canary.n < MIN_PREDICTIONS:
        return WAIT
    pooled = (stable.right + canary.right) / (stable.n + canary.n)
    z = (canary.rate - stable.rate) / math.sqrt(
        pooled * (1 - pooled) * (1 / stable.n + 1 / canary.n)
    )
    worse = 2 * norm.sf(abs(z)) < 0.05 and z < 0
    return ROLLBACK if worse else PROMOTE


def new_rule(stable: Counts, canary: Counts) -> str:
    if canary.n < MIN_PREDICTIONS:
        return WAIT
    return canary_verdict(stable, canary).decision


@dataclass
class Tally:
    promoted: int = 0
    rolled_back: int = 0
    promoted_within_3000: int = 0
    undecided: int = 0
    decided_at: list[int] | None = None

    def line(self, runs: int) -> str:
        at = statistics.median(self.decided_at) if self.decided_at else float("nan")
        return (
            f"{self.promoted / runs:6.1%} {self.rolled_back / runs:9.1%} "
            f"{self.promoted_within_3000 / runs:12.1%} {self.undecided / runs:9.1%} {at:10,.0f}"
        )


def simulate(rate: float, runs: int, rng: np.random.Generator, rules: dict[str, Rule]):
    canary = rng.binomial(BATCH, rate, (runs, LOOKS)).cumsum(axis=1)
    stable = rng.binomial(STABLE_BATCH, STABLE_RATE, (runs, LOOKS)).cumsum(axis=1)
    tallies = {name: Tally(decided_at=[]) for name in rules}
    for c_run, s_run in zip(canary, stable, strict=True):
        for name, rule in rules.items():
            tally = tallies[name]
            for look in range(LOOKS):
                n = BATCH * (look + 1)
                decision = rule(
                    Counts(int(s_run[look]), STABLE_BATCH * (look + 1)), Counts(int(c_run[look]), n)
                )
                if decision != WAIT:
                    break
            if decision == WAIT:
                tally.undecided += 1
                continue
            assert tally.decided_at is not None
            tally.decided_at.append(n)
            tally.promoted += decision == PROMOTE
            tally.rolled_back += decision == ROLLBACK
            tally.promoted_within_3000 += decision == PROMOTE and n <= 3000
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=1000, help="runs per case")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rules: dict[str, Rule] = {"old (z-test)": old_rule, "new (sequence)": new_rule}
    started = time.perf_counter()
    print(
        f"bench/rollout_decisions.py --seed {args.seed} --runs {args.runs}: stable "
        f"{STABLE_RATE:.0%} right, canary {SHARE:.0%}, a look per {BATCH} canary outcomes"
    )
    print(
        f"{'canary':<28} {'rule':<15} {'promoted':>8} {'rolled back':>11} "
        f"{'promoted ≤3000':>14} {'undecided':>9} {'median n':>10}"
    )
    for label, rate in CASES:
        for name, tally in simulate(rate, args.runs, rng, rules).items():
            print(f"{label:<28} {name:<15}   {tally.line(args.runs)}")
    print(f"({time.perf_counter() - started:.0f} s; median n: canary outcomes at the decision)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
