"""What a model from a framework whose extra is missing gets: an error naming the extra.

The framework is made unimportable in a child process (a meta-path finder refusing it), as it
is where `pip install 'staticml[xgboost]'` was not run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import pytest
import xgboost
from sklearn.datasets import load_iris

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.model import load_model

X, Y = load_iris(return_X_y=True)


def app(tmp_path: Path, file: str) -> Path:
    (tmp_path / "pre.py").write_text("def features(record):\n    return [0.0] * 4\n")
    (tmp_path / "staticml.toml").write_text(
        f'[app]\nname = "t"\n[model]\nfile = "{file}"\n[preprocess]\nentry = "pre:features"\n'
        '[[input]]\nname = "a"\ntype = "number"\n'
    )
    return tmp_path


def load_without(module: str, folder: Path) -> subprocess.CompletedProcess:
    script = textwrap.dedent(
        f"""
        import sys
        from importlib.abc import MetaPathFinder

        class Missing(MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == {module!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Missing())
        from staticml.config import load_config
        from staticml.errors import BuildError
        from staticml.stages.model import load_model
        try:
            load_model(load_config({str(folder)!r}))
        except BuildError as exc:
            print(exc)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )


def test_a_pickled_xgboost_model_without_xgboost_names_the_extra(tmp_path):
    joblib.dump(xgboost.XGBClassifier(n_estimators=2).fit(X, Y), tmp_path / "model.joblib")
    completed = load_without("xgboost", app(tmp_path, "model.joblib"))
    assert "holds an XGBoost model, but xgboost is not installed" in completed.stdout, completed
    assert "pip install 'staticml[xgboost]'" in completed.stdout


def test_a_lightgbm_booster_without_onnxmltools_names_the_extra(tmp_path):
    import lightgbm

    booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, Y > 0), 2)
    booster.save_model(str(tmp_path / "model.txt"))
    completed = load_without("onnxmltools", app(tmp_path, "model.txt"))
    assert "is a LightGBM model, and converting it needs onnxmltools" in completed.stdout, completed
    assert "pip install 'staticml[lightgbm]'" in completed.stdout


def test_a_native_file_that_is_not_a_booster_is_named(tmp_path):
    (tmp_path / "model.json").write_text('{"not": "a booster"}')
    with pytest.raises(BuildError, match=r"model.file model.json is not an XGBoost model file"):
        load_model(load_config(app(tmp_path, "model.json")))


@pytest.mark.parametrize(
    ("objective", "kind"),
    [("binary:logistic", "classification"), ("reg:squarederror", "regression")],
)
def test_a_native_xgboost_booster_is_a_classifier_or_regressor_by_its_objective(
    tmp_path, objective, kind
):
    booster = xgboost.train({"objective": objective}, xgboost.DMatrix(X, Y > 0), 2)
    booster.save_model(str(tmp_path / "model.ubj"))
    model = load_model(load_config(app(tmp_path, "model.ubj")))
    assert model.kind == kind and model.n_features == 4
