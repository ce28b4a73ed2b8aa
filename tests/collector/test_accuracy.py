"""Estimated accuracy without labels: on shifted data with known labels, the estimate tracks
the true accuracy within its interval, with exact counts and with local-DP noise.

A logistic model of y given two inputs is fitted on training data and calibrated on a
labelled evaluation set (what the build does). Pages (`Monitor`, the browser's own code) then
count predictions on shifted inputs, in summaries of k = 20; the summaries go through the
collector's validation, its SQLite store and its report, whose estimate is compared with
the share of those very predictions that were right.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from staticml.baseline import CONFIDENCE_EDGES, compute_baseline
from staticml.calibration import measure_confidence, top_probability
from staticml.collector.accuracy import bin_accuracies
from staticml.collector.alerts import crossed, parse_condition
from staticml.collector.report import drift_report
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from staticml.errors import CollectorError
from staticml.runtime.monitor import Monitor
from tests.support.collector import write_bundle

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
RELEASE = "0123456789ab"
WEIGHTS = np.array([2.0, 1.0])


def labelled(rng, rows: int, mean=(0.0, 0.0), scale: float = 1.0):
    """Inputs around `mean`, and labels drawn from P(y = 1 | x) = sigmoid(2 x0 + x1), which no
    shift of the inputs changes (covariate shift)."""
    x = rng.normal(mean, scale, size=(rows, 2))
    y = (rng.random(rows) < 1 / (1 + np.exp(-(x @ WEIGHTS)))).astype(int)
    return x, y


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(2026)
    model = LogisticRegression().fit(*labelled(rng, 4000))
    x, y = labelled(rng, 2000)
    scores = model.predict_proba(x)
    confidence = measure_confidence(
        top_probability(scores), model.predict(x) == y, "2000 evaluation rows"
    )
    columns = {"x0": list(map(float, x[:, 0])), "x1": list(map(float, x[:, 1]))}
    baseline = compute_baseline(columns, ("prediction", [str(v) for v in model.predict(x)]))
    return model, dataclasses.replace(baseline, confidence=confidence)


def spec(baseline, epsilon=None):
    """What the build gives the page's monitor (`MonitorArtifact.runtime_spec`)."""
    features = [
        {"name": f.name, "kind": f.kind, "edges": list(f.edges), "source": ["field", f.name]}
        for f in baseline.features
    ]
    output = {"name": "prediction", "kind": "categorical", "categories": ["0", "1"]}
    confidence = {"kind": "numeric", "edges": list(baseline.confidence.edges)}
    return {
        "release": RELEASE,
        "k": 20,
        "epsilon": epsilon,
        "features": features,
        "output": output,
        "confidence": confidence,
    }


def window(model, baseline, tmp_path, x, y, epsilon=None, seed=1, now=NOW):
    """The report's estimate for pages predicting `x`, and the true accuracy of the predictions
    the summaries counted."""
    monitor = Monitor(spec(baseline, epsilon), clock=lambda: now, rng=random.Random(seed))
    predicted = model.predict(x)
    top = top_probability(model.predict_proba(x))
    summaries = []
    for row, label, p in zip(x, predicted, top, strict=True):
        monitor.observe({"x0": float(row[0]), "x1": float(row[1])}, [], str(label), float(p))
        summaries.extend(item["summary"] for item in monitor.ready)
        monitor.sent([item["id"] for item in monitor.ready])
    counted = len(summaries) * 20
    truth = float(np.mean(predicted[:counted] == y[:counted]))
    store = open_store(f"sqlite:///{tmp_path / f'{seed}-{epsilon}.db'}")
    try:
        store.add_many(
            [parse_summary(json.dumps(s).encode(), {RELEASE: baseline}, now) for s in summaries]
        )
        report = drift_report(store, RELEASE, baseline, "24h", now=now)
    finally:
        store.close()
    return report, truth


SHIFTS = {
    "none": ((0.0, 0.0), 1.0),
    "towards the boundary": ((0.3, -0.6), 0.5),
    "away from it": ((1.0, 1.0), 1.0),
    "wider": ((0.0, 0.0), 2.0),
}


@pytest.mark.parametrize("epsilon", [None, 1.0])
@pytest.mark.parametrize("shift", SHIFTS)
def test_the_estimate_tracks_the_true_accuracy_within_its_interval(
    fitted, tmp_path, shift, epsilon
):
    model, baseline = fitted
    mean, scale = SHIFTS[shift]
    x, y = labelled(np.random.default_rng(len(shift)), 4000, mean, scale)
    report, truth = window(model, baseline, tmp_path, x, y, epsilon)
    estimate = report.accuracy
    assert estimate is not None and estimate.value is not None
    assert estimate.low <= truth <= estimate.high, (estimate, truth)
    assert abs(estimate.value - truth) < 0.03, (estimate, truth)
    assert estimate.high - estimate.low < 0.2
    assert report.to_json()["estimated_accuracy"]["value"] == estimate.value


def test_the_estimate_follows_a_drop_and_the_noise_widens_the_interval(fitted, tmp_path):
    model, baseline = fitted
    rng = np.random.default_rng(7)
    usual, _ = window(model, baseline, tmp_path, *labelled(rng, 10_000), seed=2)
    x, y = labelled(rng, 10_000, (0.3, -0.6), 0.5)
    shifted, truth = window(model, baseline, tmp_path, x, y, seed=3)
    noisy, _ = window(model, baseline, tmp_path, x, y, epsilon=0.5, seed=3)
    assert usual.accuracy.value - shifted.accuracy.value > 0.1, (usual.accuracy, truth)
    assert usual.accuracy.low > shifted.accuracy.high  # told apart, not just different
    width = shifted.accuracy.high - shifted.accuracy.low
    assert noisy.accuracy.high - noisy.accuracy.low > width


def test_an_overconfident_model_is_estimated_from_its_calibrated_bins(fitted, tmp_path):
    """Probabilities sharpened (logit × 3) overstate accuracy; the bins' measured accuracy
    corrects most of it, where the mean top-class probability would not."""
    model, baseline = fitted

    class Overconfident:
        def predict(self, x):
            return model.predict(x)

        def predict_proba(self, x):
            p = model.predict_proba(x)[:, 1:]
            sharp = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
            return np.hstack([1 - sharp, sharp])

    sharp = Overconfident()
    rng = np.random.default_rng(11)
    x, y = labelled(rng, 2000)
    top = top_probability(sharp.predict_proba(x))
    calibration = measure_confidence(top, sharp.predict(x) == y, "evaluation")
    assert calibration.ece > 0.05
    assert (
        measure_confidence(top_probability(model.predict_proba(x)), model.predict(x) == y, "e").ece
        < calibration.ece / 2
    )
    recalibrated = dataclasses.replace(baseline, confidence=calibration)
    x, y = labelled(rng, 4000, (0.3, -0.6), 0.5)
    report, truth = window(sharp, recalibrated, tmp_path, x, y)
    naive = float(np.mean(top_probability(sharp.predict_proba(x))[: len(y)]))
    assert report.accuracy.low <= truth <= report.accuracy.high
    # Binning leaves some bias (a bin's accuracy moves when its mix of inputs does), far less
    # than taking the probabilities at their word.
    assert naive - truth > 0.1 and abs(report.accuracy.value - truth) < (naive - truth) / 3


def test_windows_with_too_few_predictions_are_not_estimated(fitted, tmp_path):
    model, baseline = fitted
    report, _ = window(model, baseline, tmp_path, *labelled(np.random.default_rng(3), 150))
    assert report.accuracy.n == 140 and report.accuracy.value is None
    assert crossed(report, [parse_condition("estimated_accuracy<0.99")]) == []


def test_fail_on_estimated_accuracy(fitted, tmp_path):
    model, baseline = fitted
    x, y = labelled(np.random.default_rng(5), 1000, (0.3, -0.6), 0.5)
    report, _ = window(model, baseline, tmp_path, x, y)
    value = report.accuracy.value
    [line] = crossed(report, [parse_condition(f"estimated_accuracy<{value + 0.01}")])
    assert line.startswith(f"the estimated accuracy is {value:.3f} (95% interval")
    assert crossed(report, [parse_condition(f"estimated_accuracy<{value - 0.01}")]) == []
    assert crossed(report, [parse_condition(f"estimated_accuracy_high<{value}")]) == []
    assert crossed(report, [parse_condition(f"estimated_accuracy_low<{value}")])
    with pytest.raises(CollectorError, match=r"drop the skew\. prefix"):
        parse_condition("skew.estimated_accuracy<0.9")


def test_a_bin_without_evaluation_rows_falls_back_to_its_middle(fitted):
    _, baseline = fitted
    confidence = baseline.confidence
    empty = dataclasses.replace(
        confidence,
        rows=(0,) * confidence.bins,
        mean=(None,) * confidence.bins,
        accuracy=(None,) * confidence.bins,
    )
    values = [value for value, _ in bin_accuracies(empty)]
    assert values[0] == pytest.approx(0.05) and values[-1] == pytest.approx(0.95)
    assert len(values) == len(CONFIDENCE_EDGES) + 1


def test_the_dashboard_and_the_api_show_the_estimate(fitted, tmp_path):
    from starlette.testclient import TestClient

    from staticml.collector.app import create_collector_app

    model, baseline = fitted
    x, y = labelled(np.random.default_rng(9), 1000)
    report, _ = window(model, baseline, tmp_path, x, y, seed=4)
    store = open_store(f"sqlite:///{tmp_path / '4-None.db'}")  # the window's own database
    try:
        app = create_collector_app({RELEASE: baseline}, store, clock=lambda: NOW)
        with TestClient(app) as client:
            page = client.get(f"/?release={RELEASE}&window=24h").text
            api = client.get(f"/v1/drift?release={RELEASE}&window=24h").json()
    finally:
        store.close()
    estimate = report.accuracy
    assert api["estimated_accuracy"]["value"] == pytest.approx(estimate.value)
    assert (
        f"Estimated without labels: {estimate.value:.1%} (95% interval {estimate.low:.1%} to "
        f"{estimate.high:.1%}) over 1000 predictions"
    ) in page
    assert 'aria-label="Estimated accuracy per 24h window"' in page


def test_staticml_drift_fails_on_the_estimate(fitted, tmp_path):
    model, baseline = fitted
    x, y = labelled(np.random.default_rng(13), 1000, (0.3, -0.6), 0.5)
    report, _ = window(model, baseline, tmp_path, x, y, seed=5, now=datetime.now(UTC))
    site = write_bundle(tmp_path / "site", baseline, RELEASE)
    db = f"sqlite:///{tmp_path / '5-None.db'}"

    def drift(condition: str) -> subprocess.CompletedProcess:
        arguments = ["drift", "--db", db, "--release", RELEASE, "--bundle", str(site)]
        return subprocess.run(
            [sys.executable, "-m", "staticml", *arguments, "--fail-on", condition],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    value = report.accuracy.value
    crossing = drift(f"estimated_accuracy<{value + 0.01:.3f}")
    assert crossing.returncode == 3, crossing.stdout + crossing.stderr
    assert f"Estimated accuracy (without labels): {value:.3f}, 95% interval" in crossing.stdout
    assert f"crossed: the estimated accuracy is {value:.3f}" in crossing.stdout
    passing = drift(f"estimated_accuracy<{value - 0.01:.3f}")
    assert passing.returncode == 0, passing.stdout + passing.stderr
