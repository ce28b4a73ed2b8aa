from __future__ import annotations

import json

import pytest

from staticml.errors import AssetError
from staticml.runtimes import PYODIDE, RUNTIMES, locate
from tests.conftest import ROOT


def test_pins_agree_with_package_json_and_the_lock_file():
    declared = json.loads((ROOT / "package.json").read_text())["dependencies"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for spec in RUNTIMES:
        assert declared[spec.package] == spec.version
        assert locked[f"node_modules/{spec.package}"]["version"] == spec.version


def test_a_missing_runtime_says_to_run_npm_ci(tmp_path):
    with pytest.raises(AssetError, match=r"pyodide is not installed in .*: run `npm ci`"):
        locate(PYODIDE, tmp_path)


def test_a_wrong_version_is_refused(tmp_path):
    package = tmp_path / "pyodide"
    package.mkdir()
    (package / "package.json").write_text('{"version": "0.1.0"}')
    with pytest.raises(
        AssetError, match=r"version 0.1.0, but staticml is pinned to pyodide 314.0.7"
    ):
        locate(PYODIDE, tmp_path)


def test_an_incomplete_runtime_is_refused(tmp_path):
    package = tmp_path / "pyodide"
    package.mkdir()
    (package / "package.json").write_text(json.dumps({"version": PYODIDE.version}))
    with pytest.raises(AssetError, match=r"incomplete, missing .*pyodide.asm.wasm"):
        locate(PYODIDE, tmp_path)
