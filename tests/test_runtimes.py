from __future__ import annotations

import json
import shutil

import pytest

from staticml import runtimes
from staticml.errors import AssetError
from staticml.runtime_digests import DIGESTS, INTEGRITY
from staticml.runtimes import (
    NODE_MODULES_ENV,
    ONNXRUNTIME_WEB,
    PYODIDE,
    RUNTIMES,
    default_node_modules,
    locate,
)
from tests.support import ROOT


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


def _copy_runtime(spec, target):
    source = default_node_modules() / spec.package
    package = target / spec.package
    (package / spec.source).mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "package.json", package / "package.json")
    for name in spec.files:
        shutil.copy(source / spec.source / name, package / spec.source / name)
    return package / spec.source


def test_the_pinned_digests_cover_every_runtime_file():
    for spec in RUNTIMES:
        assert set(DIGESTS[(spec.package, spec.version)]) == set(spec.files)


def test_the_installed_runtimes_match_the_pinned_digests():
    for spec in RUNTIMES:
        assert locate(spec, default_node_modules()).files


@pytest.mark.parametrize("spec", RUNTIMES, ids=lambda spec: spec.package)
def test_a_changed_runtime_file_is_refused_by_name(tmp_path, spec):
    folder = _copy_runtime(spec, tmp_path)
    changed = folder / spec.files[0]
    changed.write_bytes(changed.read_bytes() + b"\n")
    with pytest.raises(AssetError) as refused:
        locate(spec, tmp_path)
    message = str(refused.value)
    assert f"{changed} is not the file of {spec.package} {spec.version}" in message
    assert "npm ci" in message


def test_a_node_modules_in_the_current_folder_with_other_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    folder = _copy_runtime(ONNXRUNTIME_WEB, tmp_path / "node_modules")
    (folder / "ort-wasm-simd-threaded.mjs").write_text("export default null;\n")
    monkeypatch.chdir(tmp_path)
    assert default_node_modules() == tmp_path / "node_modules"
    with pytest.raises(AssetError, match=r"ort-wasm-simd-threaded\.mjs is not the file of"):
        locate(ONNXRUNTIME_WEB, default_node_modules())


def test_a_version_without_pinned_digests_is_refused(monkeypatch):
    monkeypatch.setattr(runtimes, "DIGESTS", {})
    with pytest.raises(AssetError, match=r"no pinned digests for pyodide .*runtime_digests\.py"):
        locate(PYODIDE, default_node_modules())


def test_the_pinned_integrity_is_the_lock_files():
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for spec in RUNTIMES:
        entry = locked[f"node_modules/{spec.package}"]
        assert INTEGRITY[(spec.package, spec.version)] == entry["integrity"]


def test_the_generated_pins_are_what_the_script_writes():
    from scripts.runtime_digests import TARGET, render

    table = {f"{package}@{version}": files for (package, version), files in DIGESTS.items()}
    assert render(table) == TARGET.read_text()
