from __future__ import annotations

import joblib
import numpy as np
import pytest

from staticml.errors import ConfigError
from staticml.scaffold.bounds import DATA_RANGE, THRESHOLDS
from staticml.scaffold.inputs import DraftField, field_names, model_inputs, outward
from tests.support.scaffold import named_forest, onnx_tree, thresholds, unnamed_regressor


def test_a_table_fitted_model_names_its_fields_and_maps_thresholds_back_through_the_scaler(
    tmp_path,
):
    path = named_forest(tmp_path / "forest.joblib")
    inputs = model_inputs(path)
    model = joblib.load(path)
    assert [f.label for f in inputs.fields] == list(model.feature_names_in_)
    assert [f.name for f in inputs.fields] == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
    ]
    assert inputs.classes == ("setosa", "versicolor", "virginica")
    assert inputs.bounds_source == THRESHOLDS
    scaler, forest = model.steps[0][1], model.steps[1][1]
    for feature, found in thresholds(forest).items():
        raw = found * scaler.scale_[feature] + scaler.mean_[feature]
        field = inputs.fields[feature]
        assert field.min is not None and field.max is not None
        assert field.min <= raw.min() <= field.min + 1e-4
        assert field.max - 1e-4 <= raw.max() <= field.max


def test_a_model_fitted_on_an_array_gets_positional_names_and_no_made_up_bounds(tmp_path):
    inputs = model_inputs(unnamed_regressor(tmp_path / "ridge.pkl"))
    assert [f.name for f in inputs.fields] == [f"x{i}" for i in range(10)]
    assert all(f.min is None and f.max is None for f in inputs.fields)
    assert inputs.classes == ()
    assert "does not say which values are valid (Ridge does not bound its inputs)" in (
        inputs.bounds_source
    )
    # The StandardScaler still says what typical values look like: samples sit around them.
    first = inputs.fields[0]
    assert first.center is not None and first.spread is not None
    assert all(abs(v - first.center) <= first.spread for v in first.sample_values(3))


def test_an_onnx_tree_gives_positional_fields_its_thresholds_and_its_class_labels(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    inputs = model_inputs(onnx_tree(tmp_path / "tree.onnx"))
    assert [f.name for f in inputs.fields] == ["x0", "x1", "x2", "x3"]
    assert inputs.classes == ("0", "1", "2")
    data = load_iris()
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(data.data, data.target).tree_
    for feature, field in enumerate(inputs.fields):
        used = tree.threshold[tree.feature == feature].astype(np.float32)
        if used.size == 0:
            assert field.min is None and field.max is None
        else:
            assert field.min == pytest.approx(float(used.min()), abs=1e-5)
            assert field.max == pytest.approx(float(used.max()), abs=1e-5)


def test_min_max_scaler_bounds_are_the_training_range(tmp_path):
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    data = load_wine()
    model = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000))
    joblib.dump(model.fit(data.data, data.target), tmp_path / "m.joblib")
    inputs = model_inputs(tmp_path / "m.joblib")
    assert inputs.bounds_source == DATA_RANGE
    for feature, field in enumerate(inputs.fields):
        assert field.min is not None and field.max is not None
        assert field.min <= data.data[:, feature].min() <= field.min + 1e-3
        assert field.max - 1e-3 <= data.data[:, feature].max() <= field.max


def test_feature_names_become_valid_distinct_field_names():
    labels = ["sepal length (cm)", "Sepal-Length cm", "2nd", "class", "", "naïve"]
    assert field_names(labels) == [
        "sepal_length_cm",
        "sepal_length_cm_2",
        "x_2nd",
        "x_class",
        "x",
        "na_ve",
    ]


def test_bounds_are_rounded_outwards_only():
    assert outward(12.4099999912, down=True) <= 12.4099999912
    assert outward(12.4099999912, down=False) >= 12.4099999912
    assert outward(4.3, down=True) == 4.3


def test_samples_stay_inside_the_range():
    field = DraftField("x", "x", min=1.5, max=2.5)
    assert all(1.5 <= v <= 2.5 for v in field.sample_values(3))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("model.txt", b"", r"expected an ONNX file \(\.onnx\) or a scikit-learn estimator"),
        ("model.onnx", b"not onnx", "is not an ONNX model"),
        ("model.joblib", b"not a pickle", "is neither a pickle nor a joblib file"),
        ("model.pkl", b"", r"is neither a pickle nor a joblib file \(it is empty\)"),
        ("model.pkl", b"\x80\x04\x95", "could not be loaded"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        model_inputs(tmp_path / name)
