"""What `staticml bandit update` and `staticml outcomes` do, as library functions."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

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


def print_outcomes(db: str, window: str, *, as_json: bool = False) -> dict[str, Any]:
    store = open_store(db)
    try:
        report = rollout_report(store, window)
    finally:
        store.close()
    if as_json:
        print(json.dumps(report, indent=2))
        return report
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)
    table = Table(title=f"Feedback per release, last {window}", title_justify="left")
    for column in ("release", "right", "wrong", "rate", "95% interval"):
        table.add_column(column, justify="left" if column == "release" else "right")
    for release, rate in report["variants"].items():
        low, high = rate["ci95"]
        table.add_row(
            release,
            str(rate["right"]),
            str(rate["wrong"]),
            f"{rate['rate']:.1%}",
            f"{low:.1%} – {high:.1%}",
        )
    console.print(table)
    for pair in report["comparisons"]:
        verdict = "significant" if pair["significant"] else "not significant"
        p = "–" if pair["p_value"] is None else f"{pair['p_value']:.3g}"
        console.print(
            f"{pair['a']} vs {pair['b']}: difference {pair['difference']:+.1%}, p = {p} ({verdict} at {pair['alpha']:.3g})"
        )
    for release, shadows in report["shadows"].items():
        for shadow, entry in shadows.items():
            low, high = entry["ci95"]
            console.print(
                f"shadow {shadow} beside {release}: agreed {entry['agree']} of {entry['n']} "
                f"({entry['agreement']:.1%}, 95% interval {low:.1%} – {high:.1%})"
            )
    return report
