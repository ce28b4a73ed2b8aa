"""`staticml watch`: one look at the evidence, one decision, logged with its reason.

Meant for cron. Each run does at most one thing, in this order: judge a running canary
(promote it, or roll it back); judge a running shadow (start its canary, or drop it);
otherwise read the live release's drift report and retrain when a trigger condition is
crossed. Every run appends its decision, with the numbers behind it, to the registry.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.collector.service import drift_check
from staticml.collector.verdicts import DROP, PROMOTE, ROLLBACK, WAIT
from staticml.config import AppConfig, load_config
from staticml.learning import evidence
from staticml.learning import site as releases
from staticml.learning.lineage import Registry, default_registry
from staticml.learning.retrain import retrain
from staticml.progress import Reporter, SilentReporter


@dataclass(frozen=True)
class Decision:
    action: str  # retrain | none | canary | promote | rollback | wait
    reasons: tuple[str, ...]
    release: str | None
    details: dict[str, Any]

    def to_json(self, now: datetime.datetime) -> dict[str, Any]:
        return {
            "time": now.isoformat(timespec="seconds"),
            "action": self.action,
            "release": self.release,
            "reasons": list(self.reasons),
            **self.details,
        }


def watch(
    app_dir: Path,
    site: Path,
    db: str,
    data: Path | None = None,
    *,
    mode: str = "stateful",
    registry: Path | None = None,
    reporter: Callable[[], Reporter] = SilentReporter,
    now: datetime.datetime | None = None,
) -> Decision:
    config = load_config(app_dir)
    moment = now or datetime.datetime.now(datetime.UTC)
    store = Registry(registry or default_registry(site))
    state = releases.state(site)
    if state.canary is not None:
        decision = _judge_canary(config, site, db, state, moment)
    elif state.shadow is not None:
        decision = _judge_shadow(config, site, db, state, moment)
    else:
        decision = _check_drift(config, site, db, state.stable, moment)
        if decision.action == "retrain":
            decision = _retrain(decision, app_dir, site, data, mode, store.root, reporter, moment)
    store.decide(decision.to_json(moment))
    return decision


def _check_drift(
    config: AppConfig, site: Path, db: str, release: str, now: datetime.datetime
) -> Decision:
    check = drift_check(
        db,
        release,
        config.retrain.window,
        fail_on=config.retrain.trigger,
        bundles=[releases.release_dir(site, release)],
        now=now,
    )
    report, failures = check.report, check.failures
    details = {"drift": report.to_json(), "crossed": failures}
    if failures:
        return Decision("retrain", tuple(failures), release, details)
    summary = f"no trigger crossed ({', '.join(config.retrain.trigger)}) over {report.window}"
    return Decision("none", (summary,), release, details)


def _retrain(
    trigger: Decision,
    app_dir: Path,
    site: Path,
    data: Path | None,
    mode: str,
    registry: Path,
    reporter: Callable[[], Reporter],
    now: datetime.datetime,
) -> Decision:
    if data is None:
        reason = "drift crossed a trigger, but no --data was given to retrain on"
        return Decision("wait", (*trigger.reasons, reason), trigger.release, trigger.details)
    result = retrain(app_dir, data, site, mode=mode, registry=registry, reporter=reporter, now=now)
    return Decision(
        "retrain",
        (*trigger.reasons, result.describe()),
        result.published or result.candidate,
        {**trigger.details, "retrain": result.entry},
    )


def _judge_shadow(
    config: AppConfig, site: Path, db: str, state: releases.SiteState, now: datetime.datetime
) -> Decision:
    assert state.shadow is not None
    found = evidence.shadow_agreement(db, state.stable, state.shadow, config.retrain.window, now)
    settings = config.retrain
    details = {"evidence": found.to_json(settings.min_agreement)}
    if found.compared < settings.min_predictions:
        reason = (
            f"shadow {state.shadow} compared on {found.compared} predictions, fewer than the "
            f"{settings.min_predictions} needed"
        )
        return Decision("wait", (reason,), state.shadow, details)
    verdict = found.verdict(settings.min_agreement)
    reason = found.describe(settings.min_agreement)
    if verdict.decision == DROP:
        releases.drop_shadow(site)
        return Decision("rollback", (reason,), state.shadow, details)
    if verdict.decision == WAIT:
        return Decision("wait", (reason,), state.shadow, details)
    releases.start_canary(site, state.shadow, settings.canary_percent)
    return Decision(
        "canary", (f"{reason}: canary at {settings.canary_percent:g}%",), state.shadow, details
    )


def _judge_canary(
    config: AppConfig, site: Path, db: str, state: releases.SiteState, now: datetime.datetime
) -> Decision:
    assert state.canary is not None
    settings = config.retrain
    found = evidence.outcomes(db, state.stable, state.canary, settings.window, now)
    details = {"evidence": found.to_json(settings.margin)}
    if found.canary_n < settings.min_predictions:
        reason = (
            f"canary {state.canary} has {found.canary_n} outcomes, fewer than the "
            f"{settings.min_predictions} needed"
        )
        return Decision("wait", (reason,), state.canary, details)
    verdict = found.verdict(settings.margin)
    reasons = (found.describe(settings.margin),)
    if verdict.decision == ROLLBACK:
        releases.rollback(site)
    elif verdict.decision == PROMOTE:
        releases.promote(site, state.canary)
    return Decision(verdict.decision, reasons, state.canary, details)
