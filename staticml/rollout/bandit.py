"""A Thompson-sampling bandit over a site's releases, fed by the collector's outcome counts.

Each arm's rate of "right" feedback has a Beta(1 + right, 1 + wrong) posterior; an arm's
target share is the probability that it is the best arm, estimated by sampling. Guardrails
then limit the step: every arm keeps at least `min_share` (exploration never stops) and no
share moves by more than `max_change` in one update (a burst of noisy feedback cannot swing
all traffic). The decision, with the counts it was made from, goes into the site's history.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from staticml.collector.proportions import ALPHA
from staticml.collector.verdicts import B_BETTER, Counts, pair_verdict
from staticml.errors import RolloutError

DEFAULT_DRAWS = 20_000


@dataclass(frozen=True)
class Guardrails:
    min_share: float = 0.1
    max_change: float = 0.2

    def check(self, arms: int) -> None:
        if not 0 <= self.min_share <= 1 / arms:
            raise RolloutError(
                f"--min-share {self.min_share} cannot hold for {arms} arms: use 0 to {1 / arms:.3f}."
            )
        if not 0 < self.max_change <= 1:
            raise RolloutError(f"--max-change {self.max_change}: use more than 0 and at most 1.")


def best_arm_probabilities(
    outcomes: Mapping[str, tuple[int, int]], rng: random.Random, draws: int = DEFAULT_DRAWS
) -> dict[str, float]:
    """P(arm has the highest rate) under independent Beta posteriors, by sampling."""
    arms = sorted(outcomes)
    wins = dict.fromkeys(arms, 0)
    for _ in range(draws):
        samples = {a: rng.betavariate(1 + outcomes[a][0], 1 + outcomes[a][1]) for a in arms}
        wins[max(arms, key=samples.__getitem__)] += 1
    return {a: wins[a] / draws for a in arms}


def guarded_shares(
    current: Mapping[str, float], target: Mapping[str, float], rails: Guardrails
) -> dict[str, float]:
    """A step from `current` toward `target` that respects both guardrails.

    The target is first lifted to the floor (mixed with equal shares so each arm has at least
    `min_share`), then the step is shortened until no share moves more than `max_change`.
    Both ends of the step satisfy the floor and sum to 1, so every point between does too.
    """
    arms = sorted(current)
    rails.check(len(arms))
    floor = rails.min_share
    lifted = {a: floor + (1 - floor * len(arms)) * target[a] for a in arms}
    largest = max(abs(lifted[a] - current[a]) for a in arms)
    fraction = 1.0 if largest <= rails.max_change else rails.max_change / largest
    return {a: current[a] + fraction * (lifted[a] - current[a]) for a in arms}


def decide(
    current: Mapping[str, float],
    outcomes: Mapping[str, tuple[int, int]],
    rails: Guardrails,
    seed: int | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """New shares for the arms of `current` and the decision record kept in the history."""
    counts = {arm: outcomes.get(arm, (0, 0)) for arm in current}
    probabilities = best_arm_probabilities(counts, random.Random(seed))
    shares = guarded_shares(current, probabilities, rails)
    decision = {
        "outcomes": {arm: {"right": r, "wrong": w} for arm, (r, w) in counts.items()},
        "best_arm_probability": probabilities,
        "before": dict(current),
        "after": shares,
        "guardrails": asdict(rails),
        "against_leader": against_leader(counts),
    }
    return shares, decision


def against_leader(outcomes: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """Each other arm against the arm with the highest observed rate: the anytime-valid
    confidence sequence of (arm - leader) at 0.05 over the comparisons (Bonferroni), whether
    it shows the arm worse, and the outcomes still needed to tell. Reported, not acted on: the
    floor keeps exploring every arm, so a bandit run from cron may look at these every time."""
    counts = {arm: Counts(r, r + w) for arm, (r, w) in outcomes.items() if r + w}
    if len(counts) < 2:
        return {}
    leader = max(sorted(counts), key=lambda arm: counts[arm].rate)
    level = ALPHA / (len(counts) - 1)
    checks: dict[str, Any] = {"leader": leader}
    for arm in sorted(counts):
        if arm == leader:
            continue
        verdict = pair_verdict(counts[arm], counts[leader], level)
        assert verdict.estimate is not None
        checks[arm] = {
            "difference": verdict.estimate.value,
            "interval": [verdict.estimate.low, verdict.estimate.high],
            "shown_worse": verdict.decision == B_BETTER,
            "needed": verdict.needed,
        }
    return checks
