"""Retraining's new data: every row that is not a valid record is named before any training."""

from __future__ import annotations

import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.learning.data import load_new_data
from tests.support.retrain import NEW_WINES, WINE


def test_the_new_wines_load_and_split():
    new = load_new_data(load_config(WINE), NEW_WINES)
    assert new.rows == len(NEW_WINES.read_text().splitlines()) - 1
    assert new.train.rows and new.holdout.rows


def test_every_bad_row_of_the_new_data_is_named_by_its_line(tmp_path):
    header, *rows = NEW_WINES.read_text().splitlines()
    columns = header.split(",")
    bad = {5: "magnesium", 17: "proline", 30: "magnesium"}
    for index, column in bad.items():
        values = rows[index].split(",")
        values[columns.index(column)] += ".25"
        rows[index] = ",".join(values)
    data = tmp_path / "new.csv"
    data.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(BuildError) as raised:
        load_new_data(load_config(WINE), data)
    message = str(raised.value).splitlines()
    assert message[0] == f"--data {data} has 3 bad row(s) of {len(rows)}:"
    assert message[1:4] == [
        f"  new.csv:{index + 2}: {column}: expected a whole number, got "
        f"'{rows[index].split(',')[columns.index(column)]}'"
        for index, column in bad.items()
    ]
    assert sum('is declared type = "integer"' in line for line in message) == 2  # one per field
    assert message[-1] == "Fix the rows (or the declarations) and run staticml retrain again."
