"""Inputs for the batch scoring tests: the examples' shipped samples as CSV and Parquet files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support import ROOT

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


TARGET = "Disease progression after one year"

# Every kind of row the page's CSV scorer handles: good ones, values the schema refuses,
# missing values, rows with too few or too many values, blank rows (skipped, not counted),
# and an extra column whose quoted text holds a comma and a line break (passed through).
BAD_ROWS_CSV = """\
alcohol,malic_acid,ash,alcalinity_of_ash,magnesium,total_phenols,flavanoids,nonflavanoid_phenols,proanthocyanins,color_intensity,hue,od280_od315,proline,note
13.77,1.9,2.68,17.1,115,3,2.79,0.39,1.68,6.3,1.13,2.93,1375,first
abc,1.9,2.68,17.1,115,3,2.79,0.39,1.68,6.3,1.13,2.93,1375,not a number
12.17,1.45,2.53,19,1.5,1.89,1.75,0.45,1.03,2.95,1.45,2.23,355,not whole

12.29,1.41,1.98,16,85,2.55,2.5,0.29,1.77,2.9,1.23,2.74,,missing proline
12.29,1.41,1.98
,,,,,,,,,,,,,
12.29,1.41,1.98,16,85,2.55,2.5,0.29,1.77,2.9,1.23,2.74,428,"a, ""quoted""
note",extra
99,1.41,1.98,16,85,2.55,2.5,0.29,1.77,2.9,1.23,2.74,428,out of range
13.05,1.77,2.10,17,107,3,3,0.28,2.03,5.04,0.88,3.35,885,"multi
line, fine"
"""
BAD_ROW_NUMBERS = [2, 3, 4, 5, 6, 7]
