"""`staticml retrain` on the churn example, whose model is a ColumnTransformer pipeline taking
the record's fields: both modes train, build, judge against the stable release through the
bundles, and the judged accuracy is what scikit-learn gives the candidate."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest

from staticml.config import load_config
from staticml.learning.data import load_new_data
from staticml.learning.lineage import Registry
from staticml.learning.retrain import retrain
from staticml.rollout.site import Site
from staticml.stages import build_app
from tests.support.churn import CHURN, example

NEW = CHURN / "new-customers.csv"


@pytest.fixture(scope="module")
def churn_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_app(load_config(CHURN), tmp_path_factory.mktemp("churn") / "dist").out_dir


@pytest.fixture
def site(churn_build: Path, tmp_path: Path) -> Path:
    root = tmp_path / "site"
    Site(root).add(churn_build)
    return root


def holdout_accuracy(estimator) -> float:
    holdout = load_new_data(load_config(CHURN), NEW).holdout
    predicted = estimator.predict(example()[1].matrix(list(holdout.records)))
    return 100.0 * float((predicted == np.asarray(holdout.labels)).mean())


@pytest.mark.parametrize("mode", ["stateful", "stateless"])
def test_a_candidate_pipeline_is_judged_on_what_scikit_learn_predicts(site, mode):
    stable = Site(site).state().stable
    result = retrain(CHURN, NEW, site, mode=mode)
    assert result.published is not None, result.describe()
    assert result.parent == stable and Site(site).state().shadow == result.published
    evaluation, new = result.judgement.metrics.values()
    if mode == "stateful":  # trees added on the new customers only: it learns the new quarter
        assert new["after"]["value"] > new["before"]["value"]
    assert evaluation["before"]["value"] - evaluation["after"]["value"] <= 2.0  # its budget
    estimator = joblib.load(Registry(site.with_name("site.registry")).model_path(result.published))
    assert estimator[0].transformers_[1][0] == "categories"  # the pipeline, kept as it is
    assert holdout_accuracy(estimator) == pytest.approx(
        new["after"]["value"], abs=1e-6
    )  # metrics keep 6 decimals
