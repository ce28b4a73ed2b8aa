"""What `staticml bandit update` and `staticml outcomes` do, as library functions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from staticml.collector.outcomes import outcomes_of, read_outcomes, rollout_report
from staticml.collector.stores import open_store
from staticml.rollout.bandit import Guardrails, decide
from staticml.rollout.plan import Plan
from staticml.rollout.site import Site


def bandit_update(
    site_dir: Path | str,
    db: str,
    *,
    window: str = "7d",
    rails: Guardrails | None = None,
    seed: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """Recompute the running bandit's shares from the outcome counts in the collector's
    database and write them to the site's manifest (with the decision in its history)."""
    site = Site(site_dir)
    rails = rails or Guardrails()
    current = site.state().shares()
    store = open_store(db)
    try:
        merged = read_outcomes(store, window, now)
    finally:
        store.close()
    outcomes = {arm: _pair(merged.get(arm, {})) for arm in current}
    shares, decision = decide(current, outcomes, rails, seed)
    return site.set_shares(shares, {**decision, "window": window})


def _pair(metrics: dict[str, int]) -> tuple[int, int]:
    outcomes = outcomes_of(metrics)
    return outcomes.right, outcomes.wrong


def outcomes_report(db: str, window: str) -> dict[str, Any]:
    """Feedback rates per release with their intervals and comparisons, and shadow agreement,
    over the window (as the collector's /v1/rollout answers)."""
    store = open_store(db)
    try:
        return rollout_report(store, window)
    finally:
        store.close()
