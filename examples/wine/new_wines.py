"""Write `new-wines.csv`: synthetic newly labelled wines for trying `staticml retrain`.

The rows are the example's own training wines, resampled with 5% multiplicative noise, then
shifted as a new harvest measured with a recalibrated instrument might be (colour intensity up
30%, flavanoids down 40%, proline up 350 mg/l) and kept within the form's ranges. The shipped
model gets a few of them wrong. Run from this folder: `python new_wines.py` (the file is
committed; the tests call `wines` for more batches).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from staticml.config import load_config

WINE = Path(__file__).resolve().parent
FIELDS = {field.name: field for field in load_config(WINE).input}
WINE_FEATURES = tuple(
    (WINE / "eval.csv").read_text(encoding="utf-8").splitlines()[0].split(",")[:-1]
)


def wines(rows: int, seed: int, *, shifted: bool) -> tuple[np.ndarray, np.ndarray]:
    data = load_wine()
    train_x, _, train_y, _ = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(train_x), rows)
    x = train_x[picked] * (1 + rng.normal(0, 0.05, (rows, train_x.shape[1])))
    if shifted:
        x[:, WINE_FEATURES.index("color_intensity")] *= 1.3
        x[:, WINE_FEATURES.index("flavanoids")] *= 0.6
        x[:, WINE_FEATURES.index("proline")] += 350
    return x, train_y[picked]


def write_wines(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*WINE_FEATURES, "label"])
        for row, label in zip(x, y, strict=True):
            writer.writerow([*map(_shown, WINE_FEATURES, row), int(label)])
    return path


def _shown(name: str, value: float) -> str:
    """The value as the form would accept it: within the field's range, whole if integer."""
    field = FIELDS[name]
    low = field.min if field.min is not None else value
    high = field.max if field.max is not None else value
    value = min(max(value, low), high)
    return str(round(value)) if field.type == "integer" else f"{value:.4f}"


if __name__ == "__main__":
    write_wines(WINE / "new-wines.csv", *wines(400, seed=7, shifted=True))
