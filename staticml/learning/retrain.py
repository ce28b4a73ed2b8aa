"""`staticml retrain`: train a candidate on new data, build it, judge it against the live
release, and publish it as a shadow release only if it is not worse beyond the budget.

Stateless mode calls `train.stateless(records, labels)`, a fresh fit; stateful mode calls
`train.stateful(model, records, labels)` with the current release's estimator, continuing its
training on the new records only. Either way the candidate goes through the normal build
(preprocessing wheels, accuracy-gated compression, reference predictions) and is judged as
built: both releases score the app's evaluation data and the held-out part of the new data
through their own bundles in CPython.
"""

from __future__ import annotations

import dataclasses
import datetime
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.cache import default_cache_dir
from staticml.config import AppConfig, load_config
from staticml.converters import load_native, native_framework
from staticml.errors import BuildError
from staticml.hashing import sha256_hex
from staticml.learning import site as releases
from staticml.learning.data import Labelled, NewData, load_new_data
from staticml.learning.evaluate import Score, agreement, score_bundle
from staticml.learning.lineage import Registry, default_registry
from staticml.progress import Reporter, SilentReporter
from staticml.records import evaluation_items
from staticml.stages import build_app
from staticml.training import cached_training, source_digest, train_in_subprocess

MODES = ("stateless", "stateful")


@dataclass(frozen=True)
class Judgement:
    accepted: bool
    reasons: tuple[str, ...]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class RetrainResult:
    published: str | None  # the new shadow release, or None when refused
    candidate: str
    parent: str
    mode: str
    judgement: Judgement
    entry: dict[str, Any]

    def describe(self) -> str:
        verdict = (
            f"published {self.published} as a shadow of {self.parent}"
            if self.published
            else f"refused candidate {self.candidate}"
        )
        return f"{self.mode} retraining: {verdict}; " + "; ".join(self.judgement.reasons)


def retrain(
    app_dir: Path,
    data: Path,
    site: Path,
    *,
    mode: str = "stateful",
    registry: Path | None = None,
    reporter: Callable[[], Reporter] = SilentReporter,
    now: datetime.datetime | None = None,
) -> RetrainResult:
    config = load_config(app_dir)
    entry = _training_entry(config, mode)
    store = Registry(registry or default_registry(site))
    parent = releases.current(site)
    new = load_new_data(config, data)
    with tempfile.TemporaryDirectory(prefix="staticml-retrain-") as folder:
        work = Path(folder)
        args: tuple[Any, ...] = (list(new.train.records), list(new.train.labels))
        progress = reporter()
        try:
            if mode == "stateful":
                progress.stage(f"Loading the estimator of release {parent}")
                args = (_parent_estimator(config, store, site, parent), *args)
            progress.stage(f"Training the candidate ({mode}, {new.train.rows} rows)")
            estimator = train_in_subprocess(entry, config.app_dir, f"train.{mode}", args)
        finally:
            progress.finish()
        model_file = work / "candidate.joblib"
        _dump(estimator, model_file)
        build = build_app(_with_model(config, model_file), work / "build", reporter=reporter())
        progress = reporter()
        try:
            progress.stage(f"Scoring release {parent} and the candidate {build.release}")
            judgement = judge(config, releases.release_dir(site, parent), build.out_dir, new)
        finally:
            progress.finish()
        published = None
        if judgement.accepted:
            published = releases.publish_shadow(site, build.out_dir)
            store.keep_model(published, model_file)
        model_sha256 = sha256_hex(model_file.read_bytes())
    record = {
        "time": (now or datetime.datetime.now(datetime.UTC)).isoformat(timespec="seconds"),
        "app": config.app.name,
        "mode": mode,
        "parent": parent,
        "candidate": build.release,
        "release": published,
        "status": "shadow" if published else "refused",
        "data": new.fingerprint(),
        "metrics": judgement.metrics,
        "reasons": list(judgement.reasons),
        "model_sha256": model_sha256,
    }
    store.record(record)
    return RetrainResult(published, build.release, parent, mode, judgement, record)


def judge(config: AppConfig, current: Path, candidate: Path, new: NewData) -> Judgement:
    """Compare the two bundles on the app's evaluation data and on the new data's holdout."""
    sets = {"new data (held out)": new.holdout}
    where, items = evaluation_items(config)
    if items and all(item.get("label") not in (None, "") for item in items):
        sets = {
            f"evaluation data ({where})": Labelled(
                tuple(i["record"] for i in items), tuple(i["label"] for i in items)
            ),
            **sets,
        }
    reasons, metrics = [], {}
    accepted = True
    for name, labelled in sets.items():
        before = score_bundle(current, labelled, name)
        after = score_bundle(candidate, labelled, name)
        worse, text = _regression(config, before, after)
        metrics[name] = {
            "before": before.to_json(),
            "after": after.to_json(),
            **(
                {"agreement": round(agreement(before, after), 6)}
                if before.metric == "accuracy"
                else {}
            ),
        }
        reasons.append(f"{name}: {text}")
        accepted = accepted and not worse
    return Judgement(accepted, tuple(reasons), metrics)


def _regression(config: AppConfig, before: Score, after: Score) -> tuple[bool, str]:
    settings = config.retrain
    if before.metric == "accuracy":
        lost = before.value - after.value
        text = f"accuracy {before.value:.2f}% → {after.value:.2f}% on {after.rows} rows"
        if lost > settings.budget:
            return (
                True,
                f"{text}, {lost:.2f} points lost, over the {settings.budget:g}-point budget",
            )
        return False, f"{text}, within the {settings.budget:g}-point budget"
    grown = 100.0 * (after.value - before.value) / before.value if before.value else 0.0
    text = f"mean absolute error {before.value:.4g} → {after.value:.4g} on {after.rows} rows"
    if grown > settings.relative_budget:
        return True, f"{text}, {grown:.2f}% worse, over the {settings.relative_budget:g}% budget"
    return False, f"{text}, within the {settings.relative_budget:g}% budget"


def _training_entry(config: AppConfig, mode: str) -> Any:
    if mode not in MODES:
        raise BuildError(f"--mode {mode!r}: use stateless or stateful.")
    entry = getattr(config.train, mode)
    if entry is None:
        raise BuildError(
            f'{config.source} has no train.{mode}: add `{mode} = "module:function"` under '
            f"[train] (see docs/configuration.md) to retrain {mode}ly."
        )
    return entry


def _parent_estimator(config: AppConfig, store: Registry, site: Path, parent: str) -> Any:
    """The current release's fitted estimator: from the registry, or else the app's own model
    when it is provably the one that release was built from."""
    import joblib

    from staticml.app_code import isolated_imports

    if store.has_model(parent):
        with isolated_imports(config.app_dir):
            return joblib.load(store.model_path(parent))
    built_from = releases.provenance(site, parent).get("source_sha256")
    if built_from is not None and built_from == source_digest(config):
        file = config.model.file
        if file is not None and file.suffix.lower() in (".joblib", ".pkl", ".pickle"):
            with isolated_imports(config.app_dir):
                return joblib.load(file)
        if file is not None and native_framework(file) is not None:  # a booster's own format
            return load_native(file, f"model.file {file.name}")
        if config.model.train is not None:  # the estimator the build kept in its cache
            return cached_training(config.model.train, config.app_dir, default_cache_dir())
    raise BuildError(
        f"stateful retraining needs the estimator release {parent} was built from, and neither "
        f"{store.root} nor {config.source}'s model is it: retrain --mode stateless once, or "
        "publish a release built from this app's current model."
    )


def _with_model(config: AppConfig, model_file: Path) -> AppConfig:
    model = dataclasses.replace(config.model, file=model_file, train=None, training_data=None)
    return dataclasses.replace(config, model=model)


def _dump(estimator: Any, path: Path) -> None:
    import joblib

    joblib.dump(estimator, path)
