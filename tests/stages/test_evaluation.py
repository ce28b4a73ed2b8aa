"""The held-out data the model variants are measured on: bad evaluation records are named."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap

import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.evaluation import evaluation_set
from staticml.stages.model import load_model
from staticml.stages.wheels import pack_wheels
from tests.support import ROOT

DIABETES = ROOT / "examples" / "diabetes"


@pytest.fixture(scope="module")
def diabetes():
    config = load_config(DIABETES)
    return config, load_model(config), pack_wheels(config)


def test_the_example_evaluation_file_is_read(diabetes):
    data = evaluation_set(*diabetes)
    items = json.loads((DIABETES / "eval.json").read_text())
    assert data.rows == len(items) and data.labels == tuple(i["label"] for i in items)


def test_every_bad_evaluation_item_is_named_by_its_line_with_the_choices_it_misses(
    diabetes, tmp_path
):
    config, model, wheels = diabetes
    items = json.loads((DIABETES / "eval.json").read_text())[:8]
    for item in items[2:5]:
        item["record"]["sex"] = "3"
    items[6]["record"]["age"] = 12
    path = tmp_path / "eval.json"
    path.write_text(
        "[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]\n"
    )  # item i on line i + 2
    odd = dataclasses.replace(config, compress=dataclasses.replace(config.compress, eval_file=path))
    with pytest.raises(BuildError) as raised:
        evaluation_set(odd, model, wheels)
    toml = config.source.read_text().splitlines()
    choices = toml.index('choices = ["1", "2"]', toml.index('name = "sex"')) + 1
    low = toml.index("min = 18", toml.index('name = "age"')) + 1
    assert str(raised.value).splitlines() == [
        f"compress.eval_file {path} has 4 bad row(s) of 8:",
        "  eval.json:4: sex: expected one of '1', '2', got '3'",
        "  eval.json:5: sex: expected one of '1', '2', got '3'",
        "  eval.json:6: sex: expected one of '1', '2', got '3'",
        "  eval.json:8: age: expected a whole number from 18 to 100, got 12",
        "If those values are right, a declaration in staticml.toml may be wrong:",
        f"  input 'sex' (input[1]) allows only the choices at staticml.toml:{choices}; if '3' is "
        "valid, add it there",
        f"  input 'age' (input[0]) sets min at staticml.toml:{low}; if the value is valid, change "
        "the bound",
        "Fix the rows (or the declarations) and build again.",
    ]


def test_bad_calibration_records_are_named_by_their_item(tmp_path):
    app = tmp_path / "diabetes"
    shutil.copytree(DIABETES, app)
    (app / "calibration.py").write_text(
        textwrap.dedent(
            """
            import json
            from pathlib import Path

            def records():
                items = json.loads((Path(__file__).parent / "eval.json").read_text())
                records = [item["record"] for item in items[:6]]
                records[1]["bmi"] = "heavy"
                records[4] = {**records[4], "weight": 80}
                return records
            """
        )
    )
    toml = app / "staticml.toml"
    toml.write_text(
        toml.read_text().replace(
            "[compress]\n", '[compress]\ncalibration = "calibration:records"\n'
        )
    )
    config = load_config(app)
    with pytest.raises(BuildError) as raised:
        evaluation_set(config, load_model(config), pack_wheels(config))
    fields = ", ".join(repr(f.name) for f in config.input)
    assert str(raised.value).splitlines()[:3] == [
        "compress.calibration = 'calibration:records' has 2 bad row(s) of 6:",
        "  item 2: bmi: expected a number, got 'heavy'",
        f"  item 5: weight: unknown field; this app's fields are {fields}",
    ]
