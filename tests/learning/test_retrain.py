"""Continual learning on the wine example: retrain (stateless and stateful), judge, publish
as a shadow, and `staticml watch` moving from drift to retraining to canary to promotion.

Everything is real: builds with the compression gate, a site of releases, a SQLite collector
database filled with summaries made by the page's own summariser (`Monitor`) and rollout
summaries in the page's format, checked by the collector's own parsers.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from click.testing import CliRunner

from staticml.cli import cli
from staticml.collector.releases import load_bundle as load_baseline
from staticml.collector.releases import parse_baselines
from staticml.collector.rollout import parse_rollout
from staticml.collector.service import drift_check
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from staticml.config import load_config
from staticml.cpython import model_feed
from staticml.errors import StaticMLError
from staticml.learning.data import load_new_data
from staticml.learning.evaluate import predict
from staticml.learning.lineage import Registry
from staticml.learning.retrain import retrain
from staticml.learning.watch import watch
from staticml.rollout.site import Site
from staticml.runtime.monitor import Monitor
from staticml.scoring.bundle import load_bundle
from staticml.scoring.scorer import open_scorer, prepare
from staticml.stages import build_app
from tests.support.retrain import NEW_WINES, WINE, WINE_FEATURES, wines, write_wines

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def wine_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_app(load_config(WINE), tmp_path_factory.mktemp("wine") / "dist").out_dir


@pytest.fixture
def site(wine_build: Path, tmp_path: Path) -> Path:
    root = tmp_path / "site"
    Site(root).add(wine_build)
    return root


@pytest.fixture(scope="module")
def shifted() -> Path:
    return NEW_WINES


def test_the_committed_new_wines_are_what_their_script_writes(tmp_path):
    written = write_wines(tmp_path / "new-wines.csv", *wines(400, seed=7, shifted=True))
    assert written.read_bytes() == NEW_WINES.read_bytes()


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = wines(400, seed=7, shifted=True)
    labels = np.random.default_rng(3).permutation(y)
    return write_wines(tmp_path_factory.mktemp("bad") / "shuffled.csv", x, labels)


def _holdout_accuracy(estimator, data_path: Path) -> float:
    """The candidate's accuracy on the new data's holdout, recomputed with scikit-learn."""
    holdout = load_new_data(load_config(WINE), data_path).holdout
    x = np.asarray([[float(r[f]) for f in WINE_FEATURES] for r in holdout.records])
    y = np.asarray([int(label) for label in holdout.labels])
    return 100.0 * float((estimator.predict(x) == y).mean())


def test_a_stateful_candidate_trained_on_new_data_only_is_published_as_a_shadow(site, shifted):
    stable = Site(site).state().stable
    result = retrain(WINE, shifted, site, mode="stateful", now=NOW)

    assert result.published is not None and result.parent == stable
    evaluation, new = result.judgement.metrics.values()
    assert new["after"]["value"] > new["before"]["value"], "it must beat the stable on new data"
    assert evaluation["before"]["value"] - evaluation["after"]["value"] <= 2.0  # its budget
    plan = Site(site).state()
    assert plan.shadow == result.published and plan.stable == stable
    registry = Registry(site.with_name("site.registry"))
    estimator = joblib.load(registry.model_path(result.published))
    one_row = 100.0 / new["after"]["rows"]  # the shipped model may be a compressed variant
    assert abs(_holdout_accuracy(estimator, shifted) - new["after"]["value"]) <= one_row + 1e-9
    (entry,) = registry.entries()
    assert entry["mode"] == "stateful" and entry["parent"] == stable
    assert entry["status"] == "shadow" and entry["release"] == result.published
    rows = len(shifted.read_text().splitlines()) - 1
    assert entry["data"]["rows"] == rows and len(entry["data"]["sha256"]) == 64
    assert entry["data"]["train_rows"] + entry["data"]["holdout_rows"] == rows
    assert "record" not in json.dumps(entry), "the lineage keeps a fingerprint, never data"


def test_retrained_releases_chain_in_the_lineage(site, shifted, tmp_path):
    first = retrain(WINE, shifted, site, mode="stateful", now=NOW)
    assert first.published is not None, first.describe()
    Site(site).promote(first.published)
    more = write_wines(tmp_path / "more.csv", *wines(300, seed=8, shifted=True))
    second = retrain(WINE, more, site, mode="stateful", now=NOW)  # continues `first`'s weights
    assert second.published is not None, second.describe()
    assert second.parent == first.published
    third = retrain(WINE, more, site, mode="stateless", now=NOW)
    assert third.published is not None, third.describe()

    registry = Registry(site.with_name("site.registry"))
    chain = registry.chain(second.published)
    assert [e["release"] for e in chain] == [second.published, first.published]
    assert [e["mode"] for e in chain] == ["stateful", "stateful"]
    assert registry.chain(third.published)[0]["mode"] == "stateless"
    assert chain[-1]["parent"] == Site(site).rollback_target()


def test_a_candidate_trained_on_shuffled_labels_is_refused_with_its_reason(site, shuffled):
    before = Site(site).state()
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "retrain",
            str(WINE),
            "--data",
            str(shuffled),
            "--site",
            str(site),
            "--mode",
            "stateless",
            "-q",
        ],
    )
    assert result.exit_code == 4, result.output
    assert "refused candidate" in result.output and "over the 2-point budget" in result.output
    assert Site(site).state() == before, "a refused candidate never reaches the site"
    (entry,) = Registry(site.with_name("site.registry")).entries()
    assert entry["status"] == "refused" and entry["release"] is None
    assert any("over the 2-point budget" in reason for reason in entry["reasons"])
    lineage = runner.invoke(cli, ["lineage", "--site", str(site)])
    assert "(refused)" in lineage.output and "points lost" in lineage.output


def test_bad_new_data_is_reported_with_its_rows(site, tmp_path):
    data = tmp_path / "unlabelled.csv"
    lines = (WINE / "eval.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    rows[2] = rows[2].rsplit(",", 1)[0] + ","
    data.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(StaticMLError, match=r"rows 3 have no label"):
        retrain(WINE, data, site, mode="stateless")


def _top_probabilities(release_dir: Path, records: list[dict[str, Any]]) -> list[float]:
    """The probability of each record's predicted class, as the release's model gives it."""
    with open_scorer(load_bundle(release_dir)) as scorer:
        spec = scorer.spec
        labels, values = spec.split(
            scorer.session.run(
                spec.fetches(),
                model_feed(spec, prepare(scorer.predictor, records, "shifted wines")),
            )
        )
        return [max(p.probabilities.values()) for p in spec.predictions(labels, values)]


def _drift_summaries(release_dir: Path, data: Path, db: str) -> int:
    """What pages send while visitors score the shifted wines: summaries of k predictions,
    with the histogram of top-class probabilities the accuracy estimate reads."""
    release, text = load_baseline(release_dir)
    baseline = json.loads(text)
    spec = {
        "release": release,
        "k": 20,
        "epsilon": None,
        "features": [
            {**{k: v for k, v in f.items() if k != "counts"}, "source": ["field", f["name"]]}
            for f in baseline["features"]
        ],
        "output": {k: v for k, v in baseline["output"].items() if k != "counts"},
        "confidence": {"kind": "numeric", "edges": baseline["confidence"]["edges"]},
    }
    monitor = Monitor(spec, clock=lambda: NOW)
    records = load_new_data(load_config(WINE), data).train.records
    outputs = predict(load_bundle(release_dir), records, "shifted wines")
    tops = _top_probabilities(release_dir, records)
    for record, output, top in zip(records, outputs, tops, strict=True):
        monitor.observe({k: float(v) for k, v in record.items()}, [], output, top)
    store = open_store(db)
    try:
        baselines = parse_baselines({release: text})
        for ready in monitor.ready:
            store.add(parse_summary(json.dumps(ready["summary"]).encode(), baselines, now=NOW))
    finally:
        store.close()
    return len(monitor.ready)


def _rollout_summaries(site: Path, releases: tuple[str, str], db: str, **parts) -> None:
    """Rollout summaries as pages send them; `parts` keyed `stable` (pages on the stable
    release) or `other` (pages on the canary)."""
    stable, other = releases
    store = open_store(db)
    texts = dict(load_baseline(site / "releases" / r) for r in (stable, other))
    try:
        for release, part in parts.items():
            body = {
                "v": 1,
                "release": stable if release == "stable" else other,
                "hour": "2026-11-29T18",
                "shadow": None,
                "feedback": None,
                **part,
            }
            store.add_rollout(parse_rollout(json.dumps(body).encode(), parse_baselines(texts), NOW))
    finally:
        store.close()


def test_watch_retrains_on_drift_then_starts_the_canary_then_promotes(site, shifted, tmp_path):
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    stable = Site(site).state().stable
    quiet = watch(WINE, site, db, shifted, now=NOW)
    assert quiet.action == "none", quiet.reasons

    assert _drift_summaries(site / "releases" / stable, shifted, db) >= 10
    decision = watch(WINE, site, db, shifted, now=NOW)
    assert decision.action == "retrain" and any("psi" in r for r in decision.reasons)
    shadow = Site(site).state().shadow
    assert shadow is not None and decision.release == shadow

    waiting = watch(WINE, site, db, shifted, now=NOW)
    assert waiting.action == "wait" and "fewer than the 200 needed" in waiting.reasons[0]

    classes = len(json.loads(load_baseline(site / "releases" / stable)[1])["output"]["counts"])
    confusion = [[0] * classes for _ in range(classes)]
    confusion[0][0], confusion[1][1], confusion[1][2] = 120, 110, 10
    shadow_part = {
        "release": shadow,
        "n": 240,
        "agree": 230,
        "confusion": confusion,
        "latency": {"primary": [240] + [0] * 12, "shadow": [240] + [0] * 12},
    }
    _rollout_summaries(site, (stable, shadow), db, stable={"shadow": shadow_part})
    unsure = watch(WINE, site, db, shifted, now=NOW)
    assert unsure.action == "wait" and "95.8% of 240 predictions" in unsure.reasons[0]
    assert "not yet shown above or below the 90% required" in unsure.reasons[0]
    assert Site(site).state().shadow == shadow

    latency = {"primary": [760] + [0] * 12, "shadow": [760] + [0] * 12}
    more = {**shadow_part, "n": 760, "agree": 720, "latency": latency}
    more["confusion"] = [row[:] for row in confusion]
    more["confusion"][0][0], more["confusion"][1][1], more["confusion"][1][2] = 400, 320, 40
    _rollout_summaries(site, (stable, shadow), db, stable={"shadow": more})
    canary = watch(WINE, site, db, shifted, now=NOW)
    assert canary.action == "canary" and "95.0% of 1000 predictions" in canary.reasons[0]
    plan = Site(site).state()
    assert plan.mode == "canary" and plan.routes[0].release == shadow and plan.shadow is None

    _rollout_summaries(
        site,
        (stable, shadow),
        db,
        stable={"feedback": {"right": 1800, "wrong": 450}},
        other={"feedback": {"right": 200, "wrong": 50}},
    )
    early = watch(WINE, site, db, shifted, now=NOW)
    assert (
        early.action == "wait" and "more canary outcomes at the current rates" in early.reasons[0]
    )
    for _ in range(3):  # 22,500 stable and 2,500 canary outcomes in all, 80% right each
        _rollout_summaries(
            site,
            (stable, shadow),
            db,
            stable={"feedback": {"right": 5400, "wrong": 1350}},
            other={"feedback": {"right": 600, "wrong": 150}},
        )
    promoted = watch(WINE, site, db, shifted, now=NOW)
    assert promoted.action == "promote", promoted.reasons
    assert "shown not worse than the stable release by more than 3.0%" in promoted.reasons[0]
    assert Site(site).state().stable == shadow
    actions = [d["action"] for d in Registry(site.with_name("site.registry")).decisions()]
    assert actions == ["none", "retrain", "wait", "wait", "canary", "wait", "promote"]


def test_watch_acts_when_the_estimated_accuracy_crosses_its_trigger(site, shifted, tmp_path):
    """`retrain.trigger` on the accuracy estimated without labels, in real watch runs: the
    same summaries cross a threshold above the estimate (and watch retrains), not one below
    its interval."""
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    stable = Site(site).state().stable
    assert _drift_summaries(site / "releases" / stable, shifted, db) >= 10
    bundles = [site / "releases" / stable]
    report = drift_check(db, stable, "24h", fail_on=(), bundles=bundles, now=NOW).report
    estimate = report.to_json()["estimated_accuracy"]
    assert estimate["n"] >= 200 and estimate["low"] < estimate["value"] < 1, estimate
    for threshold, action in (
        (estimate["low"] - 0.01, "none"),
        (estimate["value"] + 0.01, "retrain"),
    ):
        app = _with_trigger(tmp_path / f"app-{action}", f"estimated_accuracy<{threshold:.3f}")
        decision = watch(app, site, db, shifted, now=NOW)
        assert decision.action == action, decision.reasons
        crossed = decision.details["crossed"]
        assert all(c.startswith("the estimated accuracy is") for c in crossed), crossed
        assert bool(crossed) == (action == "retrain"), decision.reasons


def _with_trigger(app: Path, trigger: str) -> Path:
    """A copy of the wine app whose `retrain.trigger` is `trigger` alone."""
    shutil.copytree(WINE, app)
    toml = app / "staticml.toml"
    text = toml.read_text()
    assert "\n[retrain]\n" in text and "trigger" not in text
    toml.write_text(
        text.replace("\n[retrain]\n", f"\n[retrain]\ntrigger = [{json.dumps(trigger)}]\n")
    )
    return app


def test_watch_rolls_back_a_canary_that_is_shown_worse(site, shifted, tmp_path):
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    stable = Site(site).state().stable
    result = retrain(WINE, shifted, site, mode="stateful", now=NOW)
    Site(site).shadow(None)
    Site(site).canary(result.published, 20)
    _rollout_summaries(
        site,
        (stable, result.published),
        db,
        stable={"feedback": {"right": 280, "wrong": 20}},
        other={"feedback": {"right": 200, "wrong": 100}},
    )
    decision = watch(WINE, site, db, None, now=NOW)
    assert decision.action == "rollback" and "shown worse" in decision.reasons[0]
    plan = Site(site).state()
    assert plan.mode == "stable" and plan.stable == stable


def test_a_retrained_site_keeps_its_registry_outside_what_is_uploaded(site, shifted):
    retrain(WINE, shifted, site, mode="stateful", now=NOW)
    assert not any(p.suffix == ".joblib" for p in site.rglob("*"))
    assert not (site / "lineage.jsonl").exists()
    shutil.rmtree(site.with_name("site.registry") / "models")
    Site(site).promote(Site(site).state().shadow)
    with pytest.raises(StaticMLError, match="stateful retraining needs the estimator"):
        retrain(WINE, shifted, site, mode="stateful", now=NOW)
