"""Training the churn example (build time only; nothing here is shipped to the browser).

The model is the pipeline as a data scientist writes it: a `ColumnTransformer` imputes and
scales the numbers and imputes and one-hot encodes the categories, then a gradient-boosted
tree ensemble (`GradientBoostingClassifier`) predicts. staticml converts the whole pipeline to
one ONNX graph with an input per column, so the app has no preprocessing code of its own.

`fit` trains the shipped model on the original customers (`model.train`). For `staticml
retrain`: `retrain` (stateless) fits afresh on the original customers plus the new ones;
`update` (stateful) keeps the fitted encoders and adds trees fitted on the new customers only
(`warm_start`), so the model learns what changed without forgetting what it knew.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from customers import FIELDS, customers
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMBERS = [0, 1, 2]  # tenure_months, monthly_charges, support_calls
CATEGORIES = [3, 4, 5]  # contract, payment, internet
TREES_PER_UPDATE = 5  # more fit the new quarter better and forget the old one faster


def pipeline() -> Pipeline:
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categories = make_pipeline(
        # a missing category reaches the model as "" (staticml.runtime.columns)
        SimpleImputer(missing_values="", strategy="constant", fill_value="unknown"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    encode = ColumnTransformer(
        [("numbers", numbers, NUMBERS), ("categories", categories, CATEGORIES)]
    )
    boosted = GradientBoostingClassifier(
        n_estimators=120, max_depth=3, learning_rate=0.1, random_state=0
    )
    return Pipeline([("encode", encode), ("boosted", boosted)])


def matrix(records: list[dict[str, Any]]) -> np.ndarray:
    """Records as the pipeline takes them: numbers as floats (NaN when missing), text as text."""
    x = np.empty((len(records), len(FIELDS)), dtype=object)
    for i, record in enumerate(records):
        for j, name in enumerate(FIELDS):
            value = record.get(name)
            if j in NUMBERS:
                x[i, j] = np.nan if value in (None, "") else float(value)
            else:
                x[i, j] = "" if value is None else str(value)
    return x


def fit() -> Pipeline:
    records, labels = customers(2000, seed=0)
    return pipeline().fit(matrix(records), np.asarray(labels))


def retrain(records: list[dict[str, Any]], labels: list[Any]) -> Pipeline:
    original, original_labels = customers(2000, seed=0)
    x = matrix([*original, *records])
    return pipeline().fit(x, np.asarray([*original_labels, *map(str, labels)]))


def update(model: Pipeline, records: list[dict[str, Any]], labels: list[Any]) -> Pipeline:
    model = copy.deepcopy(model)
    encode, boosted = model[0], model[-1]
    boosted.set_params(warm_start=True, n_estimators=boosted.n_estimators + TREES_PER_UPDATE)
    boosted.fit(encode.transform(matrix(records)), np.asarray([str(label) for label in labels]))
    return model
