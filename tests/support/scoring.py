"""Inputs for the batch scoring tests: the examples' shipped samples as CSV and Parquet files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import ROOT

WINE = ROOT / "examples" / "wine"
DIABETES = ROOT / "examples" / "diabetes"
TOLERANCE = 1e-5


def shipped_samples(bundle: Path) -> list[dict[str, Any]]:
    """The samples the bundle ships, with their CPython reference (`expected`)."""
    manifest = json.loads((bundle / "bundle.json").read_text())
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "samples"]
    return json.loads((bundle / path).read_text())["samples"]


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return path


def write_parquet(path: Path, records: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    """An output table's rows (CSV cells as text, Parquet values typed)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_errors(path: Path) -> list[tuple[int, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "error"]
    return [(int(number), reason) for number, reason in rows[1:]]


def assert_matches_expected(row: dict[str, Any], expected: dict[str, Any], target: str) -> None:
    """An output row carries the sample's reference prediction (labels equal, numbers 1e-5)."""
    assert not row["error"], row["error"]
    if "value" in expected:
        assert abs(float(row[target]) - expected["value"]) <= TOLERANCE * abs(expected["value"])
        return
    assert row["prediction"] == expected["label"]
    for name, probability in expected["probabilities"].items():
        assert abs(float(row[f"p_{name}"]) - probability) <= TOLERANCE
