"""The churn example's own code (examples/churn: customers.py, train.py), importable by tests,
and its model fitted again in scikit-learn: the independent reference the page and the CLI are
compared with."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from staticml.app_code import isolated_imports
from tests.support import ROOT

CHURN = ROOT / "examples" / "churn"
CLASSES = ("stays", "leaves")


@functools.cache
def example() -> Any:
    """The example's modules, imported from its folder (then forgotten by the import system)."""
    with isolated_imports(CHURN):
        import customers
        import train

    return customers, train


@functools.cache
def fitted() -> Any:
    """The pipeline `model.train` returns, fitted afresh in this process."""
    return example()[1].fit()


def probabilities(records: list[dict[str, Any]], model: Any = None) -> np.ndarray:
    """scikit-learn's [p(stays), p(leaves)] for each record ("" or None: missing)."""
    train = example()[1]
    return (model or fitted()).predict_proba(train.matrix(records))


def csv_records(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """CSV rows (text) as the records the page's validation makes of them."""
    numbers = {"tenure_months": int, "support_calls": int, "monthly_charges": float}
    return [
        {
            name: (None if value == "" else numbers[name](value) if name in numbers else value)
            for name, value in row.items()
            if name in example()[0].FIELDS
        }
        for row in rows
    ]
