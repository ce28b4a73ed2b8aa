"""A small iris app with an MLP, for the compression tests: made fresh in a folder, with an
evaluation file its variants are judged on. The result view's browser tests build it with long
class names and bounded fields."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import joblib
import numpy as np

# The compression tests are about the model, not the bytes of the runtime: a quick brotli keeps
# the build of the iris app's Pyodide snapshot (30 MB) from taking 40 s at the default quality
# of 11.
QUICK_BROTLI = 5
CLASSES = ("setosa", "versicolor", "virginica")
NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def iris_app(
    root: Path, classes: tuple[str, ...] = CLASSES, bounds: tuple[float, float] | None = None
) -> Path:
    """The app's folder; `classes` are the shown class names, and `bounds` (min, max), when
    given, the range of every field."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    app = root / "iris"
    (app / "iris_app").mkdir(parents=True)
    data = load_iris()
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0)
    joblib.dump(model.fit(train_x, train_y), app / "model.joblib")
    names = list(NAMES)
    with (app / "eval.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "species"])
        writer.writerows([*row, classes[label]] for row, label in zip(test_x, test_y, strict=True))
    (app / "samples.json").write_text(
        json.dumps([dict(zip(names, row, strict=True)) for row in test_x[:5]])
    )
    (app / "iris_app" / "__init__.py").write_text("")
    (app / "iris_app" / "features.py").write_text(
        f"ORDER = {names!r}\n\ndef features(record):\n    return [record[n] for n in ORDER]\n"
    )
    limits = "" if bounds is None else f"min = {bounds[0]}\nmax = {bounds[1]}\n"
    fields = "".join(f'[[input]]\nname = "{n}"\ntype = "number"\n{limits}' for n in names)
    (app / "staticml.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "iris"
            [model]
            file = "model.joblib"
            [output]
            classes = {json.dumps(list(classes))}
            [preprocess]
            entry = "iris_app.features:features"
            [samples]
            file = "samples.json"
            [compress]
            eval_file = "eval.csv"
            label = "species"
            prune = [0.5, 0.97]
            [build]
            brotli_quality = {QUICK_BROTLI}
            """
        )
        + fields
    )
    return app


def eval_rows(app: Path) -> tuple[np.ndarray, list[str]]:
    with (app / "eval.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = [row.pop("species") for row in rows]
    return np.asarray([list(row.values()) for row in rows], dtype=np.float32), labels
