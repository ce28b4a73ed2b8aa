"""A Thompson-sampling bandit over a site's releases, fed by the collector's outcome counts.

Each arm's rate of "right" feedback has a Beta(1 + right, 1 + wrong) posterior; an arm's
target share is the probability that it is the best arm, estimated by sampling. Guardrails
then limit the step: every arm keeps at least `min_share` (exploration never stops) and no
share moves by more than `max_change` in one update (a burst of noisy feedback cannot swing
all traffic).

One guardrail overrides both: an arm that the anytime-valid confidence sequence shows worse
than the leading arm is retired, its share set to 0 at once and for the rest of the bandit.
Each update compares every live arm with the leader at level 0.05 / (arms - 1); since the
sequences hold at every look, the chance that a best arm is ever retired, however often
`bandit update` runs, is at most 0.05 (a union bound over the comparisons it can be part of).
The decision, with the counts it was made from, goes into the site's history.
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
    """New shares for the arms of `current` and the decision record kept in the history.

    Arms at share 0 were retired by an earlier update and stay retired."""
    counts = {arm: outcomes.get(arm, (0, 0)) for arm in current}
    live = [arm for arm in current if current[arm] > 0]
    checks = against_leader({arm: counts[arm] for arm in live}, arms=len(current))
    retiring = [arm for arm in live if checks.get(arm, {}).get("shown_worse")]
    kept = [arm for arm in live if arm not in retiring]
    probabilities = best_arm_probabilities({arm: counts[arm] for arm in kept}, random.Random(seed))
    shares = dict.fromkeys(current, 0.0) | guarded_shares(
        _renormalised(current, kept), probabilities, rails
    )
    decision = {
        "outcomes": {arm: {"right": r, "wrong": w} for arm, (r, w) in counts.items()},
        "best_arm_probability": probabilities,
        "before": dict(current),
        "after": shares,
        "guardrails": asdict(rails),
        "against_leader": checks,
        "retired": sorted(retiring),
        "live": sorted(kept),
    }
    return shares, decision


def _renormalised(current: Mapping[str, float], kept: list[str]) -> dict[str, float]:
    """The kept arms' shares, scaled up to add to 1 (a retired arm's traffic is shared among
    the rest in proportion to their shares, before the usual step)."""
    total = sum(current[arm] for arm in kept)
    return {arm: current[arm] / total for arm in kept}


def against_leader(outcomes: Mapping[str, tuple[int, int]], arms: int) -> dict[str, Any]:
    """Each other arm against the arm with the highest observed rate: the anytime-valid
    confidence sequence of (arm - leader) at 0.05 / (arms - 1) (Bonferroni over the
    comparisons a best arm can be part of), whether it shows the arm worse, and the outcomes
    still needed to tell. `arms` is the bandit's number of arms, retired ones included, so the
    level stays fixed as arms retire."""
    counts = {arm: Counts(r, r + w) for arm, (r, w) in outcomes.items() if r + w}
    if len(counts) < 2:
        return {}
    leader = max(sorted(counts), key=lambda arm: counts[arm].rate)
    level = ALPHA / (arms - 1)
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


def describe_guardrail(decision: Mapping[str, Any]) -> list[str]:
    """What the anytime-valid guardrail did in one update, as lines for the terminal."""
    checks = decision.get("against_leader", {})
    lines = []
    for arm in decision.get("retired", []):
        low, high = checks[arm]["interval"]
        lines.append(
            f"Retired {arm}: shown worse than {checks['leader']} (difference in the rate of "
            f"right outcomes {low:+.3f} to {high:+.3f}, 95% anytime-valid); its share is now 0."
        )
    live = decision.get("live", [])
    if len(live) == 1 and len(decision.get("before", {})) > 1:
        lines.append(f"Only {live[0]} is left: end the bandit with `staticml promote {live[0]}`.")
    return lines
