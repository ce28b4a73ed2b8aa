"""The model takes the 13 measurements in scikit-learn's order; records name them.

Runs in the browser (Pyodide) and in CPython alike: standard library only.
"""

from __future__ import annotations

from typing import Any

FEATURES = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280_od315",
    "proline",
)


def features(record: dict[str, Any]) -> list[float]:
    return [float(record[name]) for name in FEATURES]


def features_batch(records: list[dict[str, Any]]) -> list[list[float]]:
    return [[float(record[name]) for name in FEATURES] for record in records]
