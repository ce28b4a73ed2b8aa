"""`staticml new` writes an app that builds and passes --verify as it is written."""

from __future__ import annotations

import tomllib

import pytest

from tests.cli.test_commands import run
from tests.support.scaffold import named_forest, onnx_tree, unnamed_regressor

MODELS = {
    "named-joblib": lambda folder: named_forest(folder / "forest.joblib"),
    "unnamed-pickle": lambda folder: unnamed_regressor(folder / "ridge.pkl"),
    "onnx": lambda folder: onnx_tree(folder / "tree.onnx"),
    "no-model": lambda folder: None,
}


@pytest.mark.parametrize("case", MODELS)
def test_new_writes_an_app_that_builds_and_verifies_unchanged(tmp_path, case):
    model = MODELS[case](tmp_path)
    app = tmp_path / "my app"
    made = run("new", str(app), *(["--model", str(model)] if model else []))
    assert made.returncode == 0, made.stderr
    assert f"Next: staticml serve --watch {app}" in made.stdout
    config = tomllib.loads((app / "staticml.toml").read_text())
    assert config["app"]["name"] == "my-app"
    assert (app / "my_app_app" / "preprocess.py").is_file()
    assert "Replace them with real records" in (app / "README.md").read_text()

    built = run("build", str(app), "-o", str(tmp_path / "dist"), "--verify")
    assert built.returncode == 0, built.stderr
    assert "Verified in Chromium" in built.stderr  # the summary goes to stderr
    assert "3 sample(s) match CPython" in built.stderr


def test_new_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run("new", str(tmp_path))
    assert result.returncode == 1
    assert "already exists and is not an empty folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
