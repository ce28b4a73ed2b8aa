"""Standardise a patient's measurements with the training set's mean and spread.

The constants ship inside this package (`scaling.json`) and are read the same way in CPython
and in the browser. Standard library only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


@cache
def scaling() -> dict[str, list[float]]:
    return json.loads(resources.files(__package__).joinpath("scaling.json").read_text())


def features(record: dict[str, Any]) -> list[float]:
    constants = scaling()
    return [
        (float(record[name]) - mean) / std
        for name, mean, std in zip(FEATURES, constants["mean"], constants["std"], strict=True)
    ]
