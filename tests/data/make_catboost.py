"""Make `catboost-wine.onnx` and `catboost-wine.json`: a small CatBoost classifier on the wine
example's training split, exported with CatBoost's own ONNX export, and its probabilities
for the example's samples from CatBoost itself.

CatBoost is not a dependency of staticml or of its tests (its wheel is large); the two files
are committed. Run with a Python that has catboost and scikit-learn:
`python tests/data/make_catboost.py`.
"""

import csv
import json
from pathlib import Path

import catboost
import numpy as np
from catboost import CatBoostClassifier
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[1] / "examples" / "wine" / "samples.csv"


def main() -> None:
    data = load_wine()
    x, _, y, _ = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    model = CatBoostClassifier(
        iterations=8,
        depth=3,
        random_seed=0,
        verbose=False,
        thread_count=1,
        allow_writing_files=False,
    ).fit(x, y)
    model.save_model(str(HERE / "catboost-wine.onnx"), format="onnx")
    with SAMPLES.open(newline="") as handle:
        rows = [[float(v) for v in row] for row in list(csv.reader(handle))[1:]]
    probabilities = model.predict_proba(np.asarray(rows, dtype=np.float32))
    (HERE / "catboost-wine.json").write_text(
        json.dumps(
            {"catboost": catboost.__version__, "probabilities": probabilities.tolist()}, indent=1
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
