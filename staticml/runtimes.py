"""The browser runtimes staticml vendors: versions in one place, and exactly which files.

Versions are pinned here and in `package.json` / `package-lock.json` (a test keeps them equal).
Each copied file must match the sha256 pinned for its version in `staticml/runtime_digests.py`
(generated from the npm tarballs the lock file pins), whichever `node_modules` or cache folder
it came from (`staticml.runtime_cache` picks the source and downloads into the cache).
Only the files the page loads are copied: the Pyodide core (no wheels ship in its npm package)
and onnxruntime-web's plain-wasm loader with its 14 MB wasm, not the 28 MB JSEP build.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from staticml.errors import AssetError
from staticml.hashing import file_sha256
from staticml.runtime_digests import DIGESTS

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


@dataclass(frozen=True)
class Runtimes:
    """The two browser runtimes a build vendors, by name."""

    pyodide: RuntimeFiles
    ort: RuntimeFiles

    def all(self) -> tuple[RuntimeFiles, ...]:
        return (self.pyodide, self.ort)


def locate_runtimes(node_modules: Path) -> Runtimes:
    return Runtimes(
        pyodide=locate(PYODIDE, node_modules), ort=locate(ONNXRUNTIME_WEB, node_modules)
    )


def default_node_modules() -> Path:
    """The node_modules folder `npm ci` fills in a checkout: `$STATICML_NODE_MODULES`, else
    `./node_modules` in the current folder, else the one beside the staticml checkout.

    A build picks its source with `staticml.runtime_cache.find_runtimes`, which also uses the
    runtime cache; this is the folder the checkout's own tools and tests read.
    """
    if os.environ.get(NODE_MODULES_ENV):
        return Path(os.environ[NODE_MODULES_ENV])
    here = Path.cwd() / "node_modules"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "node_modules"


def _fix() -> str:
    return (
        "run `npm ci` in the staticml checkout (it installs the versions pinned in "
        f"package-lock.json), point {NODE_MODULES_ENV} at a node_modules folder that has them, "
        f"or unset {NODE_MODULES_ENV} and drop --node-modules to use staticml's runtime cache "
        "(`staticml runtimes fetch`)"
    )


def installed_version(spec: RuntimeSpec, node_modules: Path) -> str | None:
    """The version of `spec.package` installed in `node_modules`, or None."""
    manifest = node_modules / spec.package / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def locate(spec: RuntimeSpec, node_modules: Path) -> RuntimeFiles:
    """The pinned files of one runtime, checked to exist at the pinned version and digests."""
    package_dir = node_modules / spec.package
    manifest = package_dir / "package.json"
    if not manifest.is_file():
        raise AssetError(f"{spec.package} is not installed in {node_modules}: {_fix()}.")
    found = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if found != spec.version:
        raise AssetError(
            f"{manifest} is version {found}, but staticml is pinned to {spec.package} "
            f"{spec.version}: {_fix()}."
        )
    paths = tuple(package_dir / spec.source / name for name in spec.files)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise AssetError(
            f"{spec.package} {spec.version} is incomplete, missing {', '.join(missing)}: {_fix()}."
        )
    check_digests(spec, paths)
    return RuntimeFiles(spec, paths)


def check_digests(spec: RuntimeSpec, paths: tuple[Path, ...], fix: str | None = None) -> None:
    """Refuse any file whose sha256 is not the one pinned for this runtime version."""
    pinned = DIGESTS.get((spec.package, spec.version))
    if pinned is None:
        raise AssetError(
            f"staticml has no pinned digests for {spec.package} {spec.version}: run "
            "`python scripts/runtime_digests.py` in the staticml checkout after changing a "
            "pinned version."
        )
    for path in paths:
        digest = file_sha256(path)
        if digest != pinned[path.name]:
            raise AssetError(
                f"{path} is not the file of {spec.package} {spec.version} staticml pins (its "
                f"sha256 is {digest}, expected {pinned[path.name]}): it was changed after "
                "installation, or this node_modules is not one package-lock.json pins (a "
                "./node_modules in the current folder is used before staticml's own, see "
                f"docs/cli.md). Reinstall it: {_fix()}."
            )
