"""XGBoost and LightGBM, end to end: the wine example with a small boosted classifier, as the
scikit-learn wrapper saved with joblib and as the native booster in its own format, built with
`staticml build --verify` (the samples predicted in Chromium, compared with CPython), scored
with `staticml batch`, and retrained with `staticml retrain` (the app's train entry fits the
same framework's model; the build converts it).

The predictions are checked against the framework's own `predict_proba` (with as many boosting
rounds as the shipped variant keeps), not against staticml's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import onnx
import pytest

import staticml
from staticml.learning.lineage import Registry
from staticml.learning.retrain import retrain
from staticml.learning.site import release_dir
from staticml.rollout.site import Site
from tests.support.boosted import FRAMEWORKS, NATIVE_FILES, TREES, boosted_app, regressor_app
from tests.support.retrain import NEW_WINES
from tests.support.scoring import (
    TARGET,
    assert_matches_expected,
    read_output,
    shipped_samples,
    write_csv,
)

pytestmark = pytest.mark.browser
TOLERANCE = 1e-5


def build_verified(app: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", "build", str(app), "-o", str(out), "--verify", *options],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module", params=FRAMEWORKS)
def wrapper(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"boosted-{request.param}")
    app = boosted_app(root, request.param)
    return request.param, app, root / "site", build_verified(app, root / "site")


@pytest.fixture(scope="module", params=FRAMEWORKS)
def native(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"native-{request.param}")
    app = boosted_app(root, request.param, native=True)
    return request.param, app, root / "site", build_verified(app, root / "site")


def report_of(site: Path) -> dict:
    return json.loads((site / "model.json").read_text())


def kept_rounds(report: dict) -> int:
    shipped = report["choice"]["variant"]
    return (
        round(int(shipped.split("-")[1]) * TREES / 100) if shipped.startswith("trees-") else TREES
    )


def framework_probabilities(framework: str, app: Path, rounds: int) -> np.ndarray:
    """The samples' probabilities from the framework itself, with `rounds` boosting rounds."""
    samples = (app / "samples.csv").read_text().splitlines()[1:]
    x = np.asarray([[float(v) for v in line.split(",")] for line in samples])
    if (app / "model.joblib").is_file():
        model = joblib.load(app / "model.joblib")
        if framework == "xgboost":
            return model.predict_proba(x, iteration_range=(0, rounds))
        return model.predict_proba(x, num_iteration=rounds)
    if framework == "xgboost":
        import xgboost

        booster = xgboost.Booster(model_file=str(app / NATIVE_FILES[framework]))
        return booster.predict(xgboost.DMatrix(x), iteration_range=(0, rounds))
    import lightgbm

    booster = lightgbm.Booster(model_file=str(app / NATIVE_FILES[framework]))
    return booster.predict(x, num_iteration=rounds)


def assert_verified_as_the_framework_predicts(framework, app, site, completed):
    assert completed.returncode == 0, completed.stderr
    assert "Verified in Chromium" in completed.stderr
    assert "12 sample(s) match CPython" in completed.stderr
    report = report_of(site)
    expected = framework_probabilities(framework, app, kept_rounds(report))
    shipped = np.asarray(
        [
            [s["expected"]["probabilities"][c] for c in ("cultivar 1", "cultivar 2", "cultivar 3")]
            for s in shipped_samples(site)
        ]
    )
    assert np.abs(shipped - expected).max() <= TOLERANCE


def test_the_wrapper_builds_and_predicts_in_chromium_as_the_framework_does(wrapper):
    assert_verified_as_the_framework_predicts(*wrapper)


def test_the_native_booster_builds_and_predicts_in_chromium_as_the_framework_does(native):
    assert_verified_as_the_framework_predicts(*native)


def test_only_what_applies_to_trees_is_tried_and_measured_in_the_browser(wrapper):
    _, _, site, completed = wrapper
    assert completed.returncode == 0, completed.stderr
    rows = {row["name"]: row for row in report_of(site)["variants"]}
    measured = {name for name, row in rows.items() if row["status"] != "not applicable"}
    assert measured == {"fp32", "trees-25", "trees-50", "trees-75"}
    for name in measured:
        browser = rows[name]["browser"]
        assert browser["ran"] and browser["label_mismatches"] == 0, (name, browser)
        assert browser["max_deviation"] <= TOLERANCE
    for name in rows.keys() - measured:
        assert "not applicable to tree ensembles" in rows[name]["not_applicable"]
    assert "not usable" not in completed.stderr


def test_batch_scoring_gives_the_browser_checked_predictions(wrapper, tmp_path):
    _, app, site, completed = wrapper
    assert completed.returncode == 0, completed.stderr
    result = staticml.batch(site, app / "samples.csv", tmp_path / "scored.csv")
    assert result.rows == 12
    for row, sample in zip(
        read_output(tmp_path / "scored.csv"), shipped_samples(site), strict=True
    ):
        assert_matches_expected(row, sample["expected"], "prediction")


@pytest.mark.parametrize("mode", ["stateless", "stateful"])
def test_retrain_fits_the_same_framework_and_builds_it(wrapper, tmp_path, mode):
    framework, app, built, completed = wrapper
    assert completed.returncode == 0, completed.stderr
    site = tmp_path / "site"
    Site(site).add(built)
    result = retrain(app, NEW_WINES, site, mode=mode)
    assert result.published is not None, result.describe()
    estimator = joblib.load(Registry(site.with_name("site.registry")).model_path(result.published))
    assert type(estimator).__module__.partition(".")[0] == framework
    rounds = estimator.n_estimators if mode == "stateless" else 2 * TREES
    booster = estimator.get_booster() if framework == "xgboost" else estimator.booster_
    trees = booster.num_boosted_rounds() if framework == "xgboost" else booster.current_iteration()
    assert trees == rounds, "stateful: more rounds on top of the current trees"
    model = next((release_dir(site, result.published) / "model").glob("*.onnx"))
    assert "TreeEnsembleClassifier" in {n.op_type for n in onnx.load(model).graph.node}


# --- CatBoost: its own ONNX export, given as an .onnx file --------------------------------------

CATBOOST = Path(__file__).resolve().parent / "data"


def test_catboost_onnx_export_builds_and_predicts_in_chromium_as_catboost_does(tmp_path):
    """tests/data/make_catboost.py made the model and CatBoost's probabilities for the samples;
    its ZipMap output is replaced by the probability tensor it maps."""
    app = boosted_app(tmp_path, "xgboost")
    (app / "model.joblib").unlink()
    shutil.copyfile(CATBOOST / "catboost-wine.onnx", app / "model.onnx")
    toml = (app / "staticml.toml").read_text()
    (app / "staticml.toml").write_text(toml.replace('file = "model.joblib"', 'file = "model.onnx"'))
    completed = build_verified(app, tmp_path / "site", "--compress", "off")
    assert completed.returncode == 0, completed.stderr
    assert "12 sample(s) match CPython" in completed.stderr
    expected = json.loads((CATBOOST / "catboost-wine.json").read_text())["probabilities"]
    classes = ("cultivar 1", "cultivar 2", "cultivar 3")
    shipped = [
        [s["expected"]["probabilities"][c] for c in classes]
        for s in shipped_samples(tmp_path / "site")
    ]
    assert np.abs(np.asarray(shipped) - np.asarray(expected)).max() <= TOLERANCE
    model = next((tmp_path / "site" / "model").glob("*.onnx"))
    assert "ZipMap" not in {n.op_type for n in onnx.load(model).graph.node}


@pytest.mark.parametrize("native", [False, True], ids=["wrapper", "native"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_boosted_regressor_builds_and_predicts_in_chromium_as_the_framework_does(
    framework, native, tmp_path
):
    app = regressor_app(tmp_path, framework, native=native)
    completed = build_verified(app, tmp_path / "site")
    assert completed.returncode == 0, completed.stderr
    assert "10 sample(s) match CPython" in completed.stderr
    rounds = kept_rounds(report_of(tmp_path / "site"))
    samples = shipped_samples(tmp_path / "site")
    scaling = json.loads((app / "diabetes_app" / "scaling.json").read_text())
    order = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    raw = np.asarray([[float(s["record"][n]) for n in order] for s in samples])
    x = (raw - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])
    model = joblib.load(tmp_path / "fitted.joblib")
    expected = (
        model.predict(x, iteration_range=(0, rounds))
        if framework == "xgboost"
        else model.predict(x, num_iteration=rounds)
    )
    shipped = np.asarray([s["expected"]["value"] for s in samples])
    assert np.abs(shipped - expected).max() <= TOLERANCE * np.abs(expected).max()
    records = write_csv(tmp_path / "records.csv", [s["record"] for s in samples])
    result = staticml.batch(tmp_path / "site", records, tmp_path / "scored.csv")
    assert result.rows == len(samples)
    for row, sample in zip(read_output(tmp_path / "scored.csv"), samples, strict=True):
        assert_matches_expected(row, sample["expected"], TARGET)
