"""Browser dependencies: pure-Python wheels for Pyodide's Python, downloaded by pip."""

from __future__ import annotations

import dataclasses

import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.dependencies import fetch_dependencies
from staticml.stages.purity import check_browser_imports
from staticml.stages.wheels import pack_wheels
from tests.conftest import ROOT


def with_dependencies(*requirements: str):
    config = load_config(ROOT / "examples" / "wine")
    return dataclasses.replace(
        config, preprocess=dataclasses.replace(config.preprocess, dependencies=requirements)
    )


def test_a_pure_package_is_downloaded_with_its_top_level_names():
    (wheel,) = fetch_dependencies(with_dependencies("six==1.16.0"))
    assert wheel.filename == "six-1.16.0-py2.py3-none-any.whl"
    assert wheel.top_level == ("six",)
    wheels = pack_wheels(with_dependencies(), (wheel,))
    assert [w.filename for w in wheels.all()][1] == wheel.filename
    assert "six" in wheels.importable()


def test_a_package_without_a_pure_wheel_is_named():
    with pytest.raises(
        BuildError, match=r"preprocess.dependencies: numpy has no pure-Python wheel for Python 3.14"
    ):
        fetch_dependencies(with_dependencies("numpy"))


def test_imports_of_declared_dependencies_are_allowed(tmp_path):
    source = tmp_path / "pkg" / "pre.py"
    source.parent.mkdir()
    source.write_text("import six\n")
    check_browser_imports([source], {"pkg", "six"}, tmp_path)
    with pytest.raises(BuildError, match="imports six"):
        check_browser_imports([source], {"pkg"}, tmp_path)


def test_no_dependencies_means_no_download():
    assert fetch_dependencies(with_dependencies()) == ()
