"""A mistake in the app's functions, made through the real `staticml build`: a message, never a
traceback. The functions a staticml.toml names are checked as it loads, so these builds stop
before any stage runs; a crash in the app's code stops the build that called it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import copy_example

ENTRY = 'entry = "diabetes_app.preprocess:features"'
ENTRY_LINE = 17
"""The line of `preprocess.entry` in examples/diabetes/staticml.toml."""


def build(app: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", "build", str(app), "-o", str(app / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def diabetes(tmp_path: Path, old: str, new: str, code: str = "") -> Path:
    """The diabetes example with `old` replaced by `new` in its staticml.toml and `code` added
    to its preprocessing module."""
    app = copy_example("diabetes", tmp_path)
    config = app / "staticml.toml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    with (app / "diabetes_app" / "preprocess.py").open("a") as module:
        module.write(code)
    return app


def assert_reported(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode != 0
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("old", "new", "code", "expected"),
    [
        (
            ENTRY,
            'entry = "diabetes_app.preprocss:features"',
            "",
            f"staticml.toml:{ENTRY_LINE}: preprocess.entry: 'diabetes_app.preprocss:features': "
            "no module 'diabetes_app.preprocss' in diabetes_app/; "
            "did you mean 'diabetes_app.preprocess'?",
        ),
        (
            ENTRY,
            'entry = "diabetes_app.preprocess:featurize"',
            "",
            f"staticml.toml:{ENTRY_LINE}: preprocess.entry: 'diabetes_app.preprocess:featurize': "
            "diabetes_app/preprocess.py defines no 'featurize'; did you mean 'features'?",
        ),
        (
            ENTRY,
            'entry = "diabetes_app.preprocess:FEATURES"',
            "",
            f"staticml.toml:{ENTRY_LINE}: preprocess.entry: 'diabetes_app.preprocess:FEATURES': "
            "diabetes_app/preprocess.py:14 binds 'FEATURES' to a tuple, not a function",
        ),
        (
            ENTRY,
            'entry = "diabetes_app.preprocess:scaled"',
            "\n\ndef scaled(record, factor):\n    return features(record)\n",
            f"staticml.toml:{ENTRY_LINE}: preprocess.entry: 'diabetes_app.preprocess:scaled': "
            "diabetes_app/preprocess.py:30 defines scaled(record, factor), but staticml calls "
            "it with 1 argument, as scaled(record)",
        ),
        (
            'file = "samples.json"',
            'source = "diabetes_app.preprocess:features"',
            "",
            "staticml.toml:20: samples.source: 'diabetes_app.preprocess:features': "
            "diabetes_app/preprocess.py:22 defines features(record), but staticml calls it "
            "with no arguments, as features()",
        ),
    ],
    ids=[
        "missing module",
        "misspelt function",
        "not callable",
        "parameters",
        "setting's arguments",
    ],
)
def test_a_wrong_function_is_a_config_error_before_any_stage(tmp_path, old, new, code, expected):
    app = diabetes(tmp_path, old, new, code)
    result = build(app)
    assert_reported(result, f"{app / 'staticml.toml'} has 1 problem(s):", expected)
    assert not (app / "out").exists()


def test_every_wrong_function_is_reported_at_once(tmp_path):
    app = diabetes(tmp_path, ENTRY, f'{ENTRY}\nbatch = "diabetes_app.preprocess:many"')
    text = (app / "staticml.toml").read_text()
    (app / "staticml.toml").write_text(
        text.replace("[compress]\n", '[compress]\ncalibration = "calibrate:records"\n')
    )
    result = build(app)
    assert_reported(
        result,
        "has 2 problem(s):",
        "preprocess.batch: 'diabetes_app.preprocess:many': diabetes_app/preprocess.py defines no 'many'",
        "staticml.toml:27: compress.calibration: 'calibrate:records': no module 'calibrate' in "
        "the app directory, nor an installed one",
    )


def test_a_crash_in_the_preprocessing_shows_only_the_apps_frames(tmp_path):
    app = diabetes(
        tmp_path,
        ENTRY,
        'entry = "diabetes_app.preprocess:broken"',
        "\n\ndef _ratio(value):\n    return value / 0\n\n\n"
        "def broken(record):\n    return [_ratio(v) for v in features(record)]\n",
    )
    result = build(app)
    assert_reported(
        result,
        f"preprocess.entry = 'diabetes_app.preprocess:broken' (staticml.toml:{ENTRY_LINE}) "
        "raised ZeroDivisionError: float division by zero\n"
        "  diabetes_app/preprocess.py:35 in broken\n"
        "    return [_ratio(v) for v in features(record)]\n",
        "  diabetes_app/preprocess.py:31 in _ratio\n    return value / 0\n",
    )
    assert "staticml/" not in result.stderr and "site-packages" not in result.stderr
    assert not (app / "out").exists()


def test_a_module_raising_as_it_is_imported_is_named_with_its_line(tmp_path):
    app = diabetes(tmp_path, ENTRY, ENTRY, '\nLIMITS = {"age": 120}["height"]\n')
    result = build(app)
    assert_reported(
        result,
        f"Error: preprocess.entry = 'diabetes_app.preprocess:features' (staticml.toml:{ENTRY_LINE}) "
        "cannot be imported from the app's wheel: KeyError: 'height'\n"
        "  diabetes_app/preprocess.py:29 in <module>\n"
        '    LIMITS = {"age": 120}["height"]\n',
    )


def test_a_crash_in_a_bundles_preprocessing_while_batch_scoring_shows_the_apps_frames(tmp_path):
    """The row the build never saw (age 99) makes the shipped preprocessing raise."""
    app = diabetes(
        tmp_path,
        "[compress]\n",
        '[runtime]\nsnapshot = false\n[compress]\nmode = "off"\n',
        "\n\ndef checked(record):\n    if record['age'] == 99:\n        return 1 / 0\n"
        "    return features(record)\n",
    )
    config = app / "staticml.toml"
    config.write_text(
        config.read_text().replace(ENTRY, 'entry = "diabetes_app.preprocess:checked"')
    )
    built = build(app)
    assert built.returncode == 0, built.stderr
    samples = json.loads((app / "samples.json").read_text())
    records = [item.get("record", item) for item in samples]
    records[1] = {**records[1], "age": 99}
    rows = tmp_path / "patients.csv"
    with rows.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "staticml",
            "batch",
            str(app / "out"),
            str(rows),
            "--out",
            str(tmp_path / "scored.csv"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_reported(
        result,
        "the bundle's preprocessing (diabetes_app.preprocess:checked) raised ZeroDivisionError: "
        f"division by zero on rows 1-{len(records)}; fix it in the app and rebuild the bundle.\n"
        "  diabetes_app/preprocess.py:32 in checked\n    return 1 / 0\n",
    )
