"""Fitted models saved the way a user saves them, for the tests of `staticml new`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def iris():
    from sklearn.datasets import load_iris

    return load_iris()


def saved(model, path: Path, writer: str) -> Path:
    """`model` written by `joblib.dump` or `pickle.dump`, whatever `path`'s suffix."""
    import pickle

    import joblib

    if writer == "joblib":
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    return path


def named_forest(path: Path, writer: str = "joblib") -> Path:
    """A random forest fitted on a table (pyarrow), so it has feature_names_in_, behind a
    StandardScaler: its thresholds are in scaled units."""
    import pyarrow as pa
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = iris()
    table = pa.table({name: data.data[:, i] for i, name in enumerate(data.feature_names)})
    model = make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=4, max_depth=3, random_state=0)
    )
    return saved(model.fit(table, data.target_names[data.target]), path, writer)


def unnamed_regressor(path: Path) -> Path:
    """A ridge regression fitted on a bare array (no names, no bounds), pickled."""
    import pickle

    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes()
    model = make_pipeline(StandardScaler(), Ridge()).fit(data.data, data.target)
    path.write_bytes(pickle.dumps(model))
    return path


def onnx_tree(path: Path) -> Path:
    """A decision tree classifier on iris, converted to ONNX by skl2onnx (plain outputs)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.tree import DecisionTreeClassifier

    data = iris()
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(data.data, data.target)
    proto = to_onnx(
        model,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    path.write_bytes(proto.SerializeToString())
    return path


def thresholds(estimator) -> dict[int, np.ndarray]:
    """Every split threshold of a fitted tree ensemble, by feature."""
    found: dict[int, list[float]] = {}
    for member in estimator.estimators_:
        tree = member.tree_
        for feature, threshold in zip(tree.feature, tree.threshold, strict=True):
            if feature >= 0:
                found.setdefault(int(feature), []).append(float(threshold))
    return {k: np.array(v) for k, v in found.items()}


def column_pipeline(path: Path) -> Path:
    """A Pipeline whose ColumnTransformer imputes, scales and encodes string categories,
    fitted on an array (so its columns are positional), saved with joblib."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    from tests.support.pipelines import fitted

    joblib.dump(fitted(LogisticRegression()), path)
    return path
