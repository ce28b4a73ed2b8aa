"""Fewer trees: each truncated ensemble is compared with what its own framework predicts with
that many trees (XGBoost's `iteration_range`, LightGBM's `num_iteration`, scikit-learn's
staged predictions, a forest's first estimators averaged), not with staticml's own code."""

from __future__ import annotations

import lightgbm
import numpy as np
import onnx
import onnxruntime
import xgboost
from skl2onnx import to_onnx
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

from staticml import converters
from staticml.stages.applicability import applicability
from staticml.stages.trees import ensemble_of, fewer_trees

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_X = IRIS_X.astype(np.float32)
DIABETES_X, DIABETES_Y = load_diabetes(return_X_y=True)
DIABETES_X = DIABETES_X.astype(np.float32)


def onnx_of(estimator) -> bytes:
    converters.register_converters(estimator, "a test model")
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "classes_") else {}
    proto = to_onnx(
        estimator,
        IRIS_X[:1] if hasattr(estimator, "classes_") else DIABETES_X[:1],
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return proto.SerializeToString()


def run(data: bytes, x: np.ndarray) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def test_a_multiclass_booster_keeps_whole_rounds_as_xgboost_does():
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=2, random_state=0)
    data = onnx_of(model.fit(IRIS_X, IRIS_Y))
    ensemble = ensemble_of(onnx.load_from_string(data))
    assert ensemble is not None
    assert (len(ensemble.trees), ensemble.per_round, ensemble.combination) == (24, 3, "summed")
    _, probabilities = run(fewer_trees(data, 0.25), IRIS_X)
    expected = model.predict_proba(IRIS_X, iteration_range=(0, 2))
    assert np.abs(probabilities - expected).max() < 1e-5


def test_a_lightgbm_regressor_needs_its_estimator_to_say_it_is_boosted():
    model = lightgbm.LGBMRegressor(n_estimators=8, num_leaves=5, random_state=0, verbose=-1)
    data = onnx_of(model.fit(DIABETES_X, DIABETES_Y))
    assert applicability(data).trees is not None, "a graph alone cannot tell"
    assert applicability(data, converters.combination_of(model)).trees is None
    [values] = run(fewer_trees(data, 0.5, converters.combination_of(model)), DIABETES_X)
    expected = model.predict(DIABETES_X, num_iteration=4)
    assert np.abs(values.ravel() - expected).max() < 1e-3


def test_gradient_boosting_keeps_its_staged_prediction():
    model = GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=0)
    data = onnx_of(model.fit(IRIS_X, IRIS_Y))
    _, probabilities = run(fewer_trees(data, 0.5), IRIS_X)
    staged = list(model.staged_predict_proba(IRIS_X))
    assert np.abs(probabilities - staged[2]).max() < 1e-5


def test_a_forest_keeps_its_first_trees_reweighted():
    model = RandomForestClassifier(n_estimators=8, max_depth=3, random_state=0)
    data = onnx_of(model.fit(IRIS_X, IRIS_Y))
    assert ensemble_of(onnx.load_from_string(data)).combination == "averaged"
    _, probabilities = run(fewer_trees(data, 0.25), IRIS_X)
    expected = np.mean([tree.predict_proba(IRIS_X) for tree in model.estimators_[:2]], axis=0)
    assert np.abs(probabilities - expected).max() < 1e-5


def test_fewer_trees_are_fewer_bytes_and_at_least_one_round():
    model = xgboost.XGBRegressor(n_estimators=10, max_depth=3, random_state=0)
    data = onnx_of(model.fit(DIABETES_X, DIABETES_Y))
    smaller = fewer_trees(data, 0.01)
    assert len(ensemble_of(onnx.load_from_string(smaller)).trees) == 1
    assert len(smaller) < len(fewer_trees(data, 0.5)) < len(data)


def test_pruning_and_int8_are_not_applicable_to_tree_ensembles():
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2, random_state=0)
    applies = applicability(onnx_of(model.fit(IRIS_X, IRIS_Y)))
    for reason in (applies.pruning, applies.int8, applies.fp16):
        assert reason is not None and reason.startswith(" to tree ensembles (")
    assert applies.trees is None


def test_a_single_round_has_no_trees_to_drop():
    model = xgboost.XGBClassifier(n_estimators=1, max_depth=2, random_state=0)
    applies = applicability(onnx_of(model.fit(IRIS_X, IRIS_Y)))
    assert applies.trees == ", the model has a single tree per class"
