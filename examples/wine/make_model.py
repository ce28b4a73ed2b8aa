"""Train the wine example's model and save it with joblib, as a data scientist would.

Run from this folder: `python make_model.py`. It writes `model.joblib` (a scaler + logistic
regression pipeline), `samples.csv` (held-out rows, one column per input field),
`reference.csv` (the training rows, the drift-monitoring baseline's data) and `eval.csv`
(every held-out row with its class in a `label` column, which the build measures the
compressed model variants on). All are committed, so building the example needs neither this
script nor the data set.
"""

from __future__ import annotations

import csv

import joblib
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from wine_app.preprocess import FEATURES

SEED = 0


def main() -> None:
    data = load_wine()
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, data.target, test_size=0.3, random_state=SEED, stratify=data.target
    )
    model = Pipeline(
        [("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))]
    ).fit(train_x, train_y)
    print(f"held-out accuracy: {model.score(test_x, test_y):.3f}")
    joblib.dump(model, "model.joblib")
    write_rows("samples.csv", test_x[:12])
    write_rows("reference.csv", train_x)
    with open("eval.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURES, "label"])
        for row, label in zip(test_x, test_y, strict=True):
            writer.writerow([*(_shown(v) for v in row), int(label)])


def write_rows(path: str, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FEATURES)
        for row in rows:
            writer.writerow([_shown(v) for v in row])


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


if __name__ == "__main__":
    main()
