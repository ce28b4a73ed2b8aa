"""`staticml new` writes an app that builds and passes --verify as it is written."""

from __future__ import annotations

import tomllib

import pytest

from tests.cli.test_commands import run
from tests.support.scaffold import column_pipeline, named_forest, onnx_tree, unnamed_regressor

MODELS = {
    "named-joblib": lambda folder: named_forest(folder / "forest.joblib"),
    "joblib-written-pkl": lambda folder: named_forest(folder / "forest.pkl"),
    "unnamed-pickle": lambda folder: unnamed_regressor(folder / "ridge.pkl"),
    "onnx": lambda folder: onnx_tree(folder / "tree.onnx"),
    "column-pipeline": lambda folder: column_pipeline(folder / "churn.joblib"),
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
    takes_fields = case == "column-pipeline"
    assert (app / "my_app_app" / "preprocess.py").is_file() is not takes_fields
    assert ("preprocess" in config) is not takes_fields
    assert "Replace them with real records" in (app / "README.md").read_text()

    built = run("build", str(app), "-o", str(tmp_path / "dist"), "--verify")
    assert built.returncode == 0, built.stderr
    assert "Verified in Chromium" in built.stderr  # the summary goes to stderr
    assert "3 sample(s) match CPython" in built.stderr


@pytest.mark.parametrize("writer", ["joblib", "pickle"])
@pytest.mark.parametrize("suffix", [".joblib", ".pkl"])
def test_new_reads_a_model_whatever_wrote_it_and_its_suffix(tmp_path, writer, suffix):
    model = named_forest(tmp_path / f"forest{suffix}", writer)
    made = run("new", str(tmp_path / "app"), "--model", str(model))
    assert made.returncode == 0, made.stderr
    config = tomllib.loads((tmp_path / "app" / "staticml.toml").read_text())
    assert [field["name"] for field in config["input"]][:2] == ["sepal_length_cm", "sepal_width_cm"]
    assert config["output"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_new_names_a_model_file_that_is_neither_pickle_nor_joblib(tmp_path):
    model = tmp_path / "forest.pkl"
    model.write_text("sepal_length,species\n5.1,setosa\n")
    made = run("new", str(tmp_path / "app"), "--model", str(model))
    assert made.returncode == 1
    assert f"--model: {model} is neither a pickle nor a joblib file" in made.stderr
    assert not (tmp_path / "app").exists()


def test_new_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run("new", str(tmp_path))
    assert result.returncode == 1
    assert "already exists and is not an empty folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_new_declares_a_pipelines_categories_and_what_it_imputes(tmp_path):
    app = tmp_path / "churn"
    made = run("new", str(app), "--model", str(column_pipeline(tmp_path / "churn.joblib")))
    assert made.returncode == 0, made.stderr
    fields = tomllib.loads((app / "staticml.toml").read_text())["input"]
    assert [(f["name"], f["type"]) for f in fields] == [
        ("x0", "number"),
        ("x1", "number"),
        ("x2", "category"),
        ("x3", "category"),
        ("x4", "category"),
    ]
    assert fields[2]["choices"] == ["blue", "green", "none", "red"]
    assert [f.get("required", True) for f in fields] == [False, False, False, True, True]
    assert "encodes the record's" in (app / "README.md").read_text()
