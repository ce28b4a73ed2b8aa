"""A Pipeline with a ColumnTransformer given as it is: converted with one input per column and
fed the record's fields, it predicts what the fitted pipeline predicts in scikit-learn."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from staticml.config import load_config
from staticml.cpython import model_feed, reference_session
from staticml.errors import BuildError
from staticml.runtime.columns import ModelInput
from staticml.runtime.engine import Predictor
from staticml.stages.model import load_model
from tests.support.pipelines import FIELDS, fitted, matrix, pipeline_app, records

UNUSUAL = [
    {"age": None, "income": 50, "colour": "red", "size": "M", "note": "new"},  # missing number
    {"age": 30.0, "income": 120, "colour": None, "size": "L", "note": "old"},  # missing category
    {"age": 55.5, "income": 20, "colour": "blue", "size": "S", "note": "never seen"},  # unknown
    {"age": None, "income": 90, "colour": None, "size": "S", "note": None},  # all at once
]


def scored(tmp_path, model, rows, fields=FIELDS):
    config = load_config(pipeline_app(tmp_path / "app", model, fields))
    artifact = load_model(config)
    predictor = Predictor(config.runtime_spec(artifact.spec()))
    prepared = predictor.features_for(rows)
    assert not prepared.errors
    spec = artifact.spec()
    outputs = reference_session(artifact.onnx).run(spec.fetches(), model_feed(spec, prepared))
    return artifact, outputs


@pytest.mark.parametrize(
    "final",
    [
        LogisticRegression(max_iter=500),
        GradientBoostingClassifier(n_estimators=30, random_state=0),
    ],
    ids=["logistic", "boosted"],
)
def test_the_converted_pipeline_predicts_what_scikit_learn_does(tmp_path, final):
    model = fitted(final)
    rows = [*records(60, seed=5)[0], *UNUSUAL]
    artifact, (labels, probabilities) = scored(tmp_path, model, rows)
    expected = model.predict_proba(matrix(rows))
    assert np.abs(probabilities - expected).max() <= 1e-5
    assert [str(label) for label in labels] == [str(c) for c in model.predict(matrix(rows))]
    assert artifact.inputs == (
        ModelInput("age", "float"),
        ModelInput("income", "float"),
        ModelInput("colour", "string"),
        ModelInput("size", "string"),
        ModelInput("note", "string"),
    )
    assert artifact.input_name == "" and artifact.n_features == 5


def test_the_graph_takes_one_column_per_field_with_string_tensors(tmp_path):
    artifact, _ = scored(tmp_path, fitted(LogisticRegression()), UNUSUAL)
    graph = onnx.load_from_string(artifact.onnx).graph
    shapes = {
        i.name: (i.type.tensor_type.elem_type, [d.dim_value for d in i.type.tensor_type.shape.dim])
        for i in graph.input
    }
    assert shapes["colour"] == (onnx.TensorProto.STRING, [0, 1])
    assert shapes["age"] == (onnx.TensorProto.FLOAT, [0, 1])


def test_an_encoder_refusing_unknown_categories_refuses_them_as_in_scikit_learn(tmp_path):
    model = fitted(LogisticRegression(), unknown="error")
    # the build runs the model once on each field's default or first choice
    fields = FIELDS.replace(
        'name = "note"\ntype = "text"', 'name = "note"\ntype = "text"\ndefault = "new"'
    )
    with pytest.raises(ValueError, match="unknown categor"):
        model.predict_proba(matrix(UNUSUAL[2:3]))
    with pytest.raises(Exception, match="Unknown Category"):
        scored(tmp_path, model, UNUSUAL[2:3], fields)
    _, (_, probabilities) = scored(tmp_path / "known", model, UNUSUAL[:1], fields)
    assert np.abs(probabilities - model.predict_proba(matrix(UNUSUAL[:1]))).max() <= 1e-5


def test_a_column_without_a_field_is_refused_with_the_fix(tmp_path):
    fields = '[[input]]\nname = "age"\ntype = "number"\n'
    config = load_config(pipeline_app(tmp_path, fitted(LogisticRegression()), fields))
    with pytest.raises(BuildError, match="takes 5 columns, but 1 names were given"):
        load_model(config)


def test_a_category_fed_to_a_number_field_is_refused(tmp_path):
    from tests.support.pipelines import FIELDS

    fields = FIELDS.replace(
        'name = "size"\ntype = "category"\nchoices = ["L", "M", "S"]',
        'name = "size"\ntype = "number"',
    )
    config = load_config(pipeline_app(tmp_path, fitted(LogisticRegression()), fields))
    with pytest.raises(
        BuildError, match="input 'size' takes text, but the field 'size' is of type 'number'"
    ):
        load_model(config)


def test_a_string_imputer_with_nan_for_missing_is_refused_with_the_fix(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rows, labels = records(50, seed=1)
    x = matrix(rows)[:, :4]
    x[:, 2] = [np.nan if v == "" else v for v in x[:, 2]]
    encode = ColumnTransformer(
        [("c", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), [2])],
        remainder="drop",
    )
    model = Pipeline([("e", encode), ("f", LogisticRegression())]).fit(x, labels)
    fields = "\n".join(
        f'[[input]]\nname = "{n}"\ntype = "{t}"\n'
        + ('choices = ["blue", "green", "red"]\n' if t == "category" else "")
        for n, t in (
            ("age", "number"),
            ("income", "number"),
            ("colour", "category"),
            ("size", "text"),
        )
    )
    config = load_config(pipeline_app(tmp_path, model, fields))
    with pytest.raises(BuildError, match=re.escape('SimpleImputer(missing_values="", ...)')):
        load_model(config)


def test_a_model_that_is_not_a_column_pipeline_needs_preprocessing(tmp_path):
    rows, labels = records(50, seed=1)
    x = np.asarray([[r["income"], r["income"] / 2, 1.0, 2.0, 3.0] for r in rows])
    config = load_config(pipeline_app(tmp_path, LogisticRegression().fit(x, labels)))
    with pytest.raises(
        BuildError, match="not a scikit-learn Pipeline starting with a ColumnTransformer"
    ):
        load_model(config)
