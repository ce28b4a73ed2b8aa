"""A scikit-learn Pipeline as a data scientist writes it: a ColumnTransformer imputing and
scaling numbers and encoding string categories, then a classifier; and an app folder that
gives it as it is (no [preprocess])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("age", "income", "colour", "size", "note")
NUMBERS = [0, 1]

FIELDS = """
[[input]]
name = "age"
type = "number"
required = false

[[input]]
name = "income"
type = "integer"

[[input]]
name = "colour"
type = "category"
choices = ["blue", "green", "red"]
required = false

[[input]]
name = "size"
type = "category"
choices = ["L", "M", "S"]

[[input]]
name = "note"
type = "text"
required = false
"""


def pipeline(final: Any, unknown: str = "ignore") -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    text = SimpleImputer(missing_values="", strategy="constant", fill_value="none")
    encode = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), [0, 1]),
            ("colour", make_pipeline(text, OneHotEncoder(handle_unknown=unknown)), [2]),
            (
                "size",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                [3],
            ),
            ("note", OneHotEncoder(handle_unknown=unknown), [4]),
        ]
    )
    return Pipeline([("encode", encode), ("final", final)])


def records(rows: int, seed: int) -> tuple[list[dict[str, Any]], list[int]]:
    rng = np.random.default_rng(seed)
    found, labels = [], []
    for _ in range(rows):
        record = {
            "age": None if rng.random() < 0.1 else round(float(rng.normal(40, 12)), 1),
            "income": int(rng.integers(10, 200)),
            "colour": None if rng.random() < 0.1 else str(rng.choice(["blue", "green", "red"])),
            "size": str(rng.choice(["L", "M", "S"])),
            "note": str(rng.choice(["new", "old", "vip"])),
        }
        score = (record["age"] or 40) / 20 - record["income"] / 60 + (record["colour"] == "red")
        found.append(record)
        labels.append(int(score + rng.normal(0, 0.5) > 0.5))
    return found, labels


def matrix(rows: list[dict[str, Any]]) -> np.ndarray:
    """Records as the pipeline is fitted on them: NaN for a missing number, "" for a missing
    category (what staticml feeds the converted model)."""
    x = np.empty((len(rows), len(COLUMNS)), dtype=object)
    for i, record in enumerate(rows):
        for j, name in enumerate(COLUMNS):
            value = record.get(name)
            if j in NUMBERS:
                x[i, j] = np.nan if value is None else float(value)
            else:
                x[i, j] = "" if value is None else str(value)
    return x


def fitted(final: Any, unknown: str = "ignore") -> Any:
    rows, labels = records(400, seed=0)
    return pipeline(final, unknown).fit(matrix(rows), np.asarray(labels))


def pipeline_app(folder: Path, model: Any, fields: str = FIELDS, extra: str = "") -> Path:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "staticml.toml").write_text(
        f'[app]\nname = "pipe"\n\n[model]\nfile = "model.joblib"\n{extra}\n{fields}'
    )
    return folder
