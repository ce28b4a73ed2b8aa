"""The browser runtimes staticml vendors: versions in one place, and exactly which files.

Versions are pinned here and in `package.json` / `package-lock.json` (a test keeps them equal).
Only the files the page loads are copied: the Pyodide core (no wheels ship in its npm package)
and onnxruntime-web's plain-wasm loader with its 14 MB wasm, not the 28 MB JSEP build.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from staticml.errors import AssetError

NODE_MODULES_ENV = "STATICML_NODE_MODULES"


@dataclass(frozen=True)
class RuntimeSpec:
    key: str
    package: str
    version: str
    source: str
    files: tuple[str, ...]


PYODIDE = RuntimeSpec(
    key="pyodide",
    package="pyodide",
    version="314.0.7",
    source="",
    files=(
        "pyodide.mjs",
        "pyodide.asm.mjs",
        "pyodide.asm.wasm",
        "python_stdlib.zip",
        "pyodide-lock.json",
    ),
)

ONNXRUNTIME_WEB = RuntimeSpec(
    key="ort",
    package="onnxruntime-web",
    version="1.30.0",
    source="dist",
    files=(
        "ort.wasm.min.mjs",
        "ort-wasm-simd-threaded.mjs",
        "ort-wasm-simd-threaded.wasm",
    ),
)

RUNTIMES = (PYODIDE, ONNXRUNTIME_WEB)
# The Python version inside the pinned Pyodide: browser dependencies are resolved for it.
PYODIDE_PYTHON = "3.14"


@dataclass(frozen=True)
class RuntimeFiles:
    spec: RuntimeSpec
    files: tuple[Path, ...]


def default_node_modules() -> Path:
    """`$STATICML_NODE_MODULES`, else `./node_modules`, else the one beside the staticml checkout."""
    if os.environ.get(NODE_MODULES_ENV):
        return Path(os.environ[NODE_MODULES_ENV])
    here = Path.cwd() / "node_modules"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "node_modules"


def locate(spec: RuntimeSpec, node_modules: Path) -> RuntimeFiles:
    """The pinned files of one runtime, checked to exist at the pinned version."""
    package_dir = node_modules / spec.package
    manifest = package_dir / "package.json"
    fix = (
        "run `npm ci` in the staticml checkout (it installs the versions pinned in "
        f"package-lock.json), or point {NODE_MODULES_ENV} at a node_modules folder that has them"
    )
    if not manifest.is_file():
        raise AssetError(f"{spec.package} is not installed in {node_modules}: {fix}.")
    found = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if found != spec.version:
        raise AssetError(
            f"{manifest} is version {found}, but staticml is pinned to {spec.package} {spec.version}: {fix}."
        )
    paths = tuple(package_dir / spec.source / name for name in spec.files)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise AssetError(
            f"{spec.package} {spec.version} is incomplete, missing {', '.join(missing)}: {fix}."
        )
    return RuntimeFiles(spec, paths)
