"""`[[input]]` declarations read from a fitted pipeline (for `staticml new --model`)."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from staticml.errors import BuildError
from staticml.pipeline_fields import column_inputs, fields_from_pipeline
from staticml.runtime.columns import FLOAT, STRING
from tests.support.pipelines import COLUMNS, fitted


def test_fields_come_from_the_fit_names_kinds_and_categories():
    fields = fields_from_pipeline(fitted(LogisticRegression()), COLUMNS)
    assert fields == [
        {"name": "age", "type": "number", "required": False},
        {"name": "income", "type": "number", "required": False},
        {
            "name": "colour",
            "type": "category",
            "choices": ["blue", "green", "none", "red"],
            "required": False,
        },
        {"name": "size", "type": "category", "choices": ["L", "M", "S"]},
        {"name": "note", "type": "category", "choices": ["new", "old", "vip"]},
    ]


def test_a_pipeline_fitted_on_an_array_gets_positional_names_unless_given():
    model = fitted(LogisticRegression())
    assert [f["name"] for f in fields_from_pipeline(model)] == ["x0", "x1", "x2", "x3", "x4"]
    assert [i.type for i in column_inputs(model, COLUMNS)] == [FLOAT, FLOAT, STRING, STRING, STRING]
    with pytest.raises(BuildError, match="takes 5 columns, but 2 names were given"):
        fields_from_pipeline(model, ["a", "b"])


def test_an_estimator_without_a_column_transformer_is_named():
    with pytest.raises(BuildError, match="LogisticRegression is not a scikit-learn Pipeline"):
        fields_from_pipeline(LogisticRegression())
