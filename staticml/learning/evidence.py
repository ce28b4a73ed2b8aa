"""What the collector has seen of a shadow or a canary, for `staticml watch` to act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from staticml.collector.outcomes import rollout_report
from staticml.collector.stores import open_store
from staticml.collector.verdicts import (
    DROP,
    PROMOTE,
    ROLLBACK,
    START,
    WAIT,
    Counts,
    Verdict,
    agreement_verdict,
    canary_verdict,
)


@dataclass(frozen=True)
class ShadowEvidence:
    stable: str
    shadow: str
    compared: int
    agreed: int

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0

    def verdict(self, required: float) -> Verdict:
        return agreement_verdict(Counts(self.agreed, self.compared), required)

    def describe(self, required: float) -> str:
        verdict = self.verdict(required)
        found = (
            f"shadow {self.shadow} agreed with {self.stable} on {self.agreement:.1%} of "
            f"{self.compared} predictions"
        )
        if verdict.estimate is None:
            return found
        e = verdict.estimate
        judged = {
            START: f"at least the {required:.0%} required",
            DROP: f"under the {required:.0%} required",
            WAIT: f"not yet shown above or below the {required:.0%} required ({verdict.needs()})",
        }[verdict.decision]
        return (
            f"{found}, {1 - verdict.alpha:.0%} confidence sequence {e.low:.1%} to {e.high:.1%}: "
            f"{judged}"
        )

    def to_json(self, required: float) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "shadow": self.shadow,
            "compared": self.compared,
            "agreed": self.agreed,
            "min_agreement": required,
            "verdict": self.verdict(required).to_json(),
        }


@dataclass(frozen=True)
class CanaryEvidence:
    stable: str
    canary: str
    rates: dict[str, Any]  # per release: right, wrong, n, rate, interval

    @property
    def canary_n(self) -> int:
        return self._counts(self.canary).n

    def verdict(self, margin: float) -> Verdict:
        return canary_verdict(self._counts(self.stable), self._counts(self.canary), margin)

    def describe(self, margin: float) -> str:
        shown = ", ".join(
            f"{release} {self.rates[release]['rate']:.1%} right of {self.rates[release]['n']}"
            for release in (self.canary, self.stable)
            if release in self.rates
        )
        verdict = self.verdict(margin)
        if verdict.estimate is None:
            return f"outcomes: {shown}; no comparison possible"
        e = verdict.estimate
        judged = {
            ROLLBACK: "shown worse than the stable release",
            PROMOTE: f"shown not worse than the stable release by more than {margin:.1%}",
            WAIT: f"not yet shown either way ({verdict.needs()})",
        }[verdict.decision]
        return (
            f"outcomes: {shown}: difference {e.value:+.1%}, {1 - verdict.alpha:.0%} confidence "
            f"sequence {e.low:+.1%} to {e.high:+.1%}: {judged}"
        )

    def to_json(self, margin: float) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "canary": self.canary,
            "rates": self.rates,
            "margin": margin,
            "verdict": self.verdict(margin).to_json(),
        }

    def _counts(self, release: str) -> Counts:
        found = self.rates.get(release, {})
        return Counts(int(found.get("right", 0)), int(found.get("n", 0)))


def shadow_agreement(
    db: str, stable: str, shadow: str, window: str, now: datetime
) -> ShadowEvidence:
    """How often the shadow agreed with the stable release in the pages that ran both."""
    found = _report(db, window, now)["shadows"].get(stable, {}).get(shadow, {})
    return ShadowEvidence(stable, shadow, int(found.get("n", 0)), int(found.get("agree", 0)))


def outcomes(db: str, stable: str, canary: str, window: str, now: datetime) -> CanaryEvidence:
    """The feedback outcome counts and rates of the canary and the stable release."""
    report = _report(db, window, now)
    rates = {r: v for r, v in report["variants"].items() if r in (stable, canary)}
    return CanaryEvidence(stable, canary, rates)


def _report(db: str, window: str, now: datetime) -> dict[str, Any]:
    store = open_store(db)
    try:
        return rollout_report(store, window, now)
    finally:
        store.close()
