"""Where each record of a samples, evaluation or reference file is written."""

from __future__ import annotations

import json

import pytest

from staticml.errors import BuildError
from staticml.records import labelled_items, named_records_from_file


def test_csv_rows_are_placed_on_their_physical_line(tmp_path):
    lines = [
        "x,label",
        "1,a",
        "",  # a blank line is skipped, and counted
        '"2',  # a quoted value over two lines
        '",b',
        "3,c",
    ]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    items = labelled_items(path, "label", "data")
    assert [item["where"] for item in items] == ["data.csv:2", "data.csv:4", "data.csv:6"]
    assert [item["record"] for item in items] == [{"x": "1"}, {"x": "2\n"}, {"x": "3"}]
    assert [item["label"] for item in items] == ["a", "b", "c"]


def test_a_short_csv_row_has_none_for_its_missing_values(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text("x,y\n1\n")
    [item] = named_records_from_file(path, "samples.file", "sample")
    assert item == {"name": "row 1", "record": {"x": "1", "y": None}, "where": "samples.csv:2"}


def test_json_items_are_placed_on_the_line_they_start_on(tmp_path):
    records = [{"x": 1}, {"x": "a,]"}, {"x": [1, {"y": 2}]}]
    text = '[ {"x": 1},\n\n  ' + json.dumps(records[1]) + ",\n" + json.dumps(records[2], indent=1)
    path = tmp_path / "reference.json"
    path.write_text(text + "\n]\n")
    items = named_records_from_file(path, "monitor.reference_file")
    assert [item["record"] for item in items] == records
    assert [item["where"] for item in items] == [
        "reference.json:1",
        "reference.json:3",
        "reference.json:4",
    ]


def test_labelled_json_items_keep_their_line(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text('[\n{"record": {"x": 1}, "label": "a"},\n{"record": {"x": 2}, "label": "b"}\n]')
    items = labelled_items(path, "label", "eval")
    assert [item["where"] for item in items] == ["eval.json:2", "eval.json:3"]
    assert named_records_from_file(tmp_path / "eval.json", "samples.file")[1]["where"] == (
        "eval.json:3"
    )


def test_a_file_that_is_not_utf8_csv_is_named_with_its_line(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_bytes(b"x,y\n1,2\n3,\xff\n")
    with pytest.raises(BuildError) as raised:
        named_records_from_file(path, "samples.file")
    assert str(raised.value) == (
        f"{path}:3: not UTF-8 text (byte 10: invalid start byte); save it as UTF-8."
    )
