"""The churn example's committed CSV files are what its script writes."""

from __future__ import annotations

from tests.support.churn import CHURN, example

FILES = ("samples.csv", "eval.csv", "reference.csv", "new-customers.csv", "to-score.csv")


def test_the_committed_customers_are_what_customers_py_writes(tmp_path, monkeypatch):
    customers = example()[0]
    monkeypatch.setattr(customers, "HERE", tmp_path)
    customers.main()
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (CHURN / name).read_bytes(), name
