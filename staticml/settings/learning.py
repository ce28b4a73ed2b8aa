"""The tables of `staticml.toml` for monitoring drift and retraining, each setting declared once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from staticml.settings.declare import setting
from staticml.settings.parsers import (
    TABLE_SUFFIXES,
    AppFile,
    AppFunction,
    EntryPoint,
    collector_url,
    daily_epsilon,
    drift_conditions,
    drift_window,
    epsilon,
    fraction,
    int_range,
    non_negative,
    percent,
)


@dataclass(frozen=True)
class MonitorSettings:
    """`[monitor]`: drift monitoring, off unless a collector is set."""

    collector: str | None = setting(
        collector_url,
        None,
        "URL of a `staticml beacon` collector (`https://host[:port][/path]`; the page posts to "
        "`<url>/v1/summaries`). When set, pages send summaries of counts for drift monitoring; "
        "`staticml serve` adds its origin to the page's `connect-src`. See the README's "
        '"Monitoring drift".',
        unset="off",
    )
    reference: EntryPoint | None = setting(
        AppFunction(),
        None,
        "Build-time `module:function` returning reference records (typically the training "
        "data): the baseline's bins and counts come from them, through the shipped "
        "preprocessing and the model.",
    )
    reference_file: Path | None = setting(
        AppFile(TABLE_SUFFIXES),
        None,
        "A CSV or JSON file of reference records, instead of `monitor.reference`.",
    )
    min_predictions: int = setting(
        int_range(5, 10_000),
        20,
        "*k*: a summary aggregates exactly this many predictions, all from one browser (not *k* "
        "people: *k* predictions of one record are a binned copy of it, see "
        "[docs/summaries.md](summaries.md#what-a-summary-reveals)); nothing is sent for fewer.",
    )
    interval_minutes: float = setting(
        non_negative,
        15,
        "Send summaries at most this often during a visit (0: as soon as one is ready). "
        "Summaries ready when the page is hidden are sent then (with `fetch`, `keepalive` and "
        "no cookies; what does not fit in the browser's 64 KiB keepalive budget waits for the "
        "next visit).",
    )
    epsilon: float | None = setting(
        epsilon,
        None,
        "Local differential privacy: two-sided geometric noise with this ε (0.01–10) on every "
        "count of every summary and rollout summary, before it leaves the page; a bound per "
        "prediction, not per person (see "
        "[docs/summaries.md](summaries.md#what-a-summary-reveals)). Off by default: [what it "
        "costs drift "
        "detection](summaries.md#local-differential-privacy-stays-off-by-default-measured).",
        unset="exact counts",
    )
    epsilon_per_day: float | None = setting(
        daily_epsilon,
        None,
        "With `monitor.epsilon`: the most ε one browser spends in a UTC day. Each summary and "
        "rollout summary it sends costs `monitor.epsilon` (the first time it is sent; a resend "
        "repeats the same noisy counts), the costs add up over the day (sequential "
        "composition), and the page stops sending once the next summary would pass this "
        "budget; what it holds back waits in the browser for the next day (see "
        "[docs/summaries.md](summaries.md#a-privacy-budget-per-browser-and-day)).",
        unset="no daily limit",
    )
    bins: int = setting(
        int_range(2, 32), 10, "Bins per numeric feature, at the reference data's quantiles."
    )

    @property
    def has_reference(self) -> bool:
        return self.reference is not None or self.reference_file is not None


@dataclass(frozen=True)
class TrainSettings:
    """`[train]`: the functions `staticml retrain` trains a candidate with."""

    stateless: EntryPoint | None = setting(
        AppFunction(("records", "labels")),
        None,
        "Build-time `module:function(records, labels)` returning a fitted model trained from "
        "scratch, typically on the original training data plus the new records (`staticml "
        "retrain --mode stateless`). Labels come as written in the data file (CSV: text).",
    )
    stateful: EntryPoint | None = setting(
        AppFunction(("model", "records", "labels")),
        None,
        "Build-time `module:function(model, records, labels)` continuing the current release's "
        "fitted estimator on the new records only, e.g. with `warm_start` or `partial_fit` "
        "(`--mode stateful`). It may modify and return `model`.",
    )


@dataclass(frozen=True)
class RetrainSettings:
    """`[retrain]`: how `staticml retrain` judges a candidate, and when `staticml watch` acts."""

    budget: float = setting(
        non_negative,
        0.5,
        "Classifiers: the most accuracy, in percentage points, a retrained candidate may lose "
        "against the stable release, on the evaluation data and on the held-out new data.",
    )
    relative_budget: float = setting(
        non_negative,
        1.0,
        "Regressors: the most a candidate's mean absolute error may grow over the stable "
        "release's, in percent.",
    )
    holdout: float = setting(
        fraction,
        0.2,
        "Share of the new data kept out of training to compare candidate and stable release on "
        "(picked by a hash of each row, so a row is always on the same side).",
    )
    trigger: tuple[str, ...] = setting(
        drift_conditions,
        ["psi>=0.2"],
        "Conditions on the stable release's drift report that make `staticml watch` retrain, "
        "written as for `staticml drift --fail-on`.",
    )
    window: str = setting(drift_window, "24h", "The drift report window `staticml watch` reads.")
    canary_percent: float = setting(
        percent,
        10,
        "Share of browsers a shadow candidate gets when `staticml watch` starts its canary.",
    )
    min_predictions: int = setting(
        int_range(1),
        200,
        "Predictions a shadow must have been compared on (or outcomes a canary must have) "
        "before `staticml watch` looks at their confidence sequence at all.",
    )
    min_agreement: float = setting(
        fraction,
        0.9,
        "Share of predictions on which a shadow must agree with the stable release for "
        "`staticml watch` to start its canary: it starts once the lower bound of the agreement's "
        "confidence sequence reaches it, and the shadow is dropped once the upper bound is below.",
    )
    margin: float = setting(
        fraction,
        0.03,
        "How much lower a canary's rate of right feedback may be than the stable release's: "
        "`staticml watch` promotes once the confidence sequence of (canary - stable) lies above "
        "-margin, and rolls back once it lies below 0.",
    )
