"""Synthetic telecom customers for the churn example (no offline data set here has categories).

Each customer has a tenure, a monthly bill (missing for some: not every billing system reports
it), a number of support calls, and three categories: the contract, the payment method and the
internet service. Whether they leave within the quarter is drawn from a fixed logistic model of
those, with an interaction a linear model cannot fit (fibre customers on month-to-month
contracts leave far more often), so a boosted model has something to learn. Run from this folder,
`python customers.py` writes the committed CSV files; the tests and `train.py` call `customers`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CONTRACTS = ("month-to-month", "one year", "two years")
PAYMENTS = ("electronic check", "mailed check", "bank transfer", "credit card")
INTERNET = ("DSL", "fibre", "none")
FIELDS = ("tenure_months", "monthly_charges", "support_calls", "contract", "payment", "internet")


def customers(
    rows: int, seed: int, *, shifted: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """`rows` customers as records (a missing bill is None) and whether each left ("yes"/"no").

    `shifted` customers are a later quarter: more of them on fibre and paying by electronic
    check, with more support calls, and fibre customers leaving more often than before.
    """
    rng = np.random.default_rng(seed)
    internet = rng.choice(INTERNET, rows, p=[0.25, 0.6, 0.15] if shifted else [0.4, 0.4, 0.2])
    contract = rng.choice(CONTRACTS, rows, p=[0.55, 0.25, 0.2])
    payment = rng.choice(
        PAYMENTS, rows, p=[0.5, 0.2, 0.15, 0.15] if shifted else [0.3, 0.25, 0.25, 0.2]
    )
    tenure = np.clip(rng.gamma(2.0, 14.0, rows), 0, 72).round()
    base = np.select([internet == "fibre", internet == "DSL"], [80.0, 55.0], 25.0)
    charges = np.clip(base + rng.normal(0, 12, rows), 18, 120).round(2)
    calls = rng.poisson(2.2 if shifted else 1.2, rows)
    score = (
        0.4
        - 0.08 * tenure
        + 0.03 * (charges - 60)
        + 0.6 * calls
        + 2.5 * ((internet == "fibre") & (contract == "month-to-month"))
        + (1.5 if shifted else 0.0) * (internet == "fibre")
        + np.select([contract == "one year", contract == "two years"], [-1.5, -3.0], 0.0)
        + 1.0 * (payment == "electronic check")
    )
    left = rng.random(rows) < 1 / (1 + np.exp(-score))
    missing = rng.random(rows) < 0.08
    records = [
        {
            "tenure_months": int(tenure[i]),
            "monthly_charges": None if missing[i] else float(charges[i]),
            "support_calls": int(calls[i]),
            "contract": str(contract[i]),
            "payment": str(payment[i]),
            "internet": str(internet[i]),
        }
        for i in range(rows)
    ]
    return records, ["yes" if x else "no" for x in left]


def write(path: Path, records: list[dict[str, Any]], labels: list[str] | None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*FIELDS, *(["label"] if labels is not None else [])])
        for i, record in enumerate(records):
            cells = ["" if record[f] is None else record[f] for f in FIELDS]
            writer.writerow([*cells, *([labels[i]] if labels is not None else [])])
    return path


def main() -> None:
    write(HERE / "samples.csv", *(customers(12, seed=3)[0], None))
    write(HERE / "eval.csv", *customers(300, seed=2))
    write(HERE / "reference.csv", customers(600, seed=1)[0], None)
    write(HERE / "new-customers.csv", *customers(400, seed=7, shifted=True))
    write(HERE / "to-score.csv", customers(200, seed=9)[0], None)


if __name__ == "__main__":
    main()
