"""What the collector has seen of a shadow or a canary, for `staticml watch` to act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from staticml.collector.outcomes import rollout_report
from staticml.collector.stores import open_store


@dataclass(frozen=True)
class ShadowEvidence:
    stable: str
    shadow: str
    compared: int
    agreed: int

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "shadow": self.shadow,
            "compared": self.compared,
            "agreed": self.agreed,
        }


@dataclass(frozen=True)
class CanaryEvidence:
    stable: str
    canary: str
    rates: dict[str, Any]  # per release: right, wrong, n, rate, ci95
    comparison: dict[str, Any] | None

    @property
    def canary_n(self) -> int:
        return int(self.rates.get(self.canary, {}).get("n", 0))

    @property
    def significantly_worse(self) -> bool:
        if not self.comparison or not self.comparison["significant"]:
            return False
        return self._rate(self.canary) < self._rate(self.stable)

    def describe(self) -> str:
        shown = ", ".join(
            f"{release} {self._rate(release):.1%} right of {self.rates[release]['n']}"
            for release in (self.canary, self.stable)
            if release in self.rates
        )
        if self.comparison is None or self.comparison["p_value"] is None:
            return f"outcomes: {shown}; no comparison possible"
        verdict = (
            "significantly worse"
            if self.significantly_worse
            else "significantly better"
            if self.comparison["significant"]
            else "no significant difference"
        )
        return (
            f"outcomes: {shown}: {verdict} (p = {self.comparison['p_value']:.3g}, "
            f"level {self.comparison['alpha']:.3g})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "canary": self.canary,
            "rates": self.rates,
            "comparison": self.comparison,
        }

    def _rate(self, release: str) -> float:
        return float(self.rates.get(release, {}).get("rate", 0.0))


def shadow_agreement(
    db: str, stable: str, shadow: str, window: str, now: datetime
) -> ShadowEvidence:
    """How often the shadow agreed with the stable release in the pages that ran both."""
    found = _report(db, window, now)["shadows"].get(stable, {}).get(shadow, {})
    return ShadowEvidence(stable, shadow, int(found.get("n", 0)), int(found.get("agree", 0)))


def outcomes(db: str, stable: str, canary: str, window: str, now: datetime) -> CanaryEvidence:
    """The feedback outcome rates of the canary and the stable release, and their test."""
    report = _report(db, window, now)
    rates = {r: v for r, v in report["variants"].items() if r in (stable, canary)}
    comparison = next(
        (c for c in report["comparisons"] if {c["a"], c["b"]} == {stable, canary}), None
    )
    return CanaryEvidence(stable, canary, rates, comparison)


def _report(db: str, window: str, now: datetime) -> dict[str, Any]:
    store = open_store(db)
    try:
        return rollout_report(store, window, now)
    finally:
        store.close()
