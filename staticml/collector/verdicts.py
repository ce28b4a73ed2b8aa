"""Anytime-valid verdicts on outcome counts: a canary against the stable release, two A/B
variants against each other, a shadow's agreement against the share required.

Each verdict reads a confidence sequence (staticml/collector/proportions.py), so it may be
asked again after every batch of feedback without raising its error rates: a decision is
taken only when the sequence shows it, and "no evidence of harm" is never read as safety.
With every verdict comes what it would take to decide: the outcomes still needed if the
rates stayed as they are now (None when they never would, e.g. two identical A/B variants).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staticml.collector.proportions import (
    ALPHA,
    DEFAULT_MARGIN,
    Estimate,
    difference_sequence,
    mixture_scale,
    needed,
    rate_sequence,
)

PROMOTE, ROLLBACK, WAIT = "promote", "rollback", "wait"
A_BETTER, B_BETTER, UNDECIDED = "a better", "b better", "undecided"
START, DROP = "canary", "drop"


@dataclass(frozen=True)
class Counts:
    right: int
    n: int

    @property
    def rate(self) -> float:
        return self.right / self.n if self.n else 0.0


@dataclass(frozen=True)
class Verdict:
    decision: str
    estimate: Estimate | None
    needed: int | None  # more outcomes (of the arm named in `needed_of`) at the current rates
    needed_of: str
    alpha: float

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "estimate": self.estimate.to_json() if self.estimate else None,
            "needed": self.needed,
            "needed_of": self.needed_of,
            "alpha": self.alpha,
        }

    def needs(self) -> str:
        """What it would take to decide, in words."""
        if self.needed == 0:
            return "decided"
        if self.needed is None:
            return "no decision at the current rates, however many outcomes come"
        return f"about {self.needed:,} more {self.needed_of} at the current rates"


def canary_verdict(
    stable: Counts, canary: Counts, margin: float = DEFAULT_MARGIN, alpha: float = ALPHA
) -> Verdict:
    """Roll back when the upper bound of (canary - stable) is below 0 (shown worse); promote
    when its lower bound is above -margin (shown not worse by more than the margin); otherwise
    wait. Each bound is one-sided at `alpha`: an equal canary is rolled back, and one worse by
    the margin promoted, with probability at most alpha however often this is asked."""
    tau2 = mixture_scale(margin, alpha)

    def at(k: float) -> Estimate | None:
        return difference_sequence(
            canary.right * k, canary.n * k, stable.right * k, stable.n * k, tau2, alpha
        )

    def decided(e: Estimate) -> bool:
        return e.high < 0 or e.low > -margin

    estimate = at(1.0)
    decision = WAIT
    if estimate is not None and estimate.high < 0:
        decision = ROLLBACK
    elif estimate is not None and estimate.low > -margin:
        decision = PROMOTE
    return Verdict(decision, estimate, needed(canary.n, at, decided), "canary outcomes", alpha)


def pair_verdict(a: Counts, b: Counts, alpha: float = ALPHA) -> Verdict:
    """Which of two variants has the higher rate, once the sequence of (a - b) excludes 0
    (each bound at alpha / 2: the interval is two-sided at level 1 - alpha)."""
    tau2 = mixture_scale(DEFAULT_MARGIN, alpha)

    def at(k: float) -> Estimate | None:
        return difference_sequence(a.right * k, a.n * k, b.right * k, b.n * k, tau2, alpha / 2)

    def decided(e: Estimate) -> bool:
        return e.low > 0 or e.high < 0

    estimate = at(1.0)
    decision = UNDECIDED
    if estimate is not None and estimate.low > 0:
        decision = A_BETTER
    elif estimate is not None and estimate.high < 0:
        decision = B_BETTER
    return Verdict(decision, estimate, needed(a.n + b.n, at, decided), "outcomes in all", alpha)


def agreement_verdict(agreed: Counts, required: float, alpha: float = ALPHA) -> Verdict:
    """Start the canary once the agreement's lower bound reaches `required`; drop the shadow
    once its upper bound is below it."""

    def at(k: float) -> Estimate | None:
        return rate_sequence(agreed.right * k, agreed.n * k, alpha)

    def decided(e: Estimate) -> bool:
        return e.low >= required or e.high < required

    estimate = at(1.0)
    decision = WAIT
    if estimate is not None and estimate.low >= required:
        decision = START
    elif estimate is not None and estimate.high < required:
        decision = DROP
    return Verdict(decision, estimate, needed(agreed.n, at, decided), "comparisons", alpha)
