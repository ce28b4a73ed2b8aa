"""Training the churn example (build time only; nothing here is shipped to the browser).

The model is the pipeline as a data scientist writes it: a `ColumnTransformer` imputes
the numbers and imputes and one-hot encodes the categories, then LightGBM's
gradient-boosted trees (`LGBMClassifier`) predict. staticml converts the whole pipeline to
one ONNX graph with an input per column, so the app has no preprocessing code of its own.

`fit` trains the shipped model on the original customers (`model.train`). For `staticml
retrain`: `retrain` (stateless) fits afresh on the original customers plus the new ones;
`update` (stateful) keeps the fitted encoders and continues boosting from the fitted trees on
the new customers only (LightGBM's `init_model`), so the model learns what changed without
forgetting what it knew.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from customers import FIELDS, customers
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

NUMBERS = [0, 1, 2]  # tenure_months, monthly_charges, support_calls
CATEGORIES = [3, 4, 5]  # contract, payment, internet
TREES_PER_UPDATE = 10  # more rounds fit the new quarter better and forget the old one faster


def pipeline() -> Pipeline:
    numbers = SimpleImputer(strategy="median")  # trees need no scaling (docs/models.md)
    categories = make_pipeline(
        # a missing category reaches the model as "" (staticml.runtime.columns)
        SimpleImputer(missing_values="", strategy="constant", fill_value="unknown"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    encode = ColumnTransformer(
        [("numbers", numbers, NUMBERS), ("categories", categories, CATEGORIES)]
    )
    return Pipeline([("encode", encode), ("boosted", boosted(120))])


def boosted(rounds: int) -> LGBMClassifier:
    return LGBMClassifier(
        n_estimators=rounds,
        max_depth=3,
        num_leaves=8,
        learning_rate=0.1,
        random_state=0,
        verbose=-1,
    )


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
    encode, fitted = model[0], model[-1]
    more = boosted(TREES_PER_UPDATE).fit(
        encode.transform(matrix(records)),
        np.asarray([str(label) for label in labels]),
        init_model=fitted.booster_,
    )
    model.steps[-1] = ("boosted", more)
    return model
