"""The example `staticml new DIR` writes without a model: iris, from scikit-learn's own copy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from staticml.scaffold.files import SAMPLE_ROWS
from staticml.scaffold.inputs import DraftField

EXAMPLE_TITLE = "Which iris is this?"
EXAMPLE_SAMPLES = f"{SAMPLE_ROWS} real iris rows, one of each species"
SEED = 0


def example_model(path: Path) -> None:
    """A scaler and logistic regression fitted on iris, saved with joblib. Fitted on a table,
    so it names its features; MinMaxScaler keeps their range, classes_ the species."""
    import joblib
    import pyarrow as pa
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    data = load_iris()
    names = [n.removesuffix(" (cm)").replace(" ", "_") for n in data.feature_names]
    table = pa.table({name: data.data[:, i] for i, name in enumerate(names)})
    species = data.target_names[data.target]
    model = Pipeline([("scale", MinMaxScaler()), ("classify", LogisticRegression(max_iter=1000))])
    joblib.dump(model.fit(table, species), path)


def example_samples(fields: Sequence[DraftField]) -> str:
    """Real iris rows, one of each species, in place of made-up ones."""
    from sklearn.datasets import load_iris

    data = load_iris()
    rows = [int((data.target == k).argmax()) for k in range(SAMPLE_ROWS)]
    lines = [",".join(f.name for f in fields)]
    lines += [",".join(f"{v:g}" for v in data.data[row]) for row in rows]
    return "\n".join(lines) + "\n"
