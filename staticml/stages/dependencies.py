"""Stage: the app's browser dependencies, as pure-Python wheels for Pyodide's Python.

pip resolves and downloads them (with their own dependencies) restricted to `py3-none-any`
style wheels for the Python version of the pinned Pyodide. A package without such a wheel
cannot run in the browser here, and the build says so, naming it.

Every requirement is pinned with its hash (`name==version --hash=sha256:…`) and pip downloads
with `--require-hashes`, so a changed file on the index never reaches the bundle. A requirement
without a pin is refused with the lines to paste, hashed from what pip downloaded.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.packaging import Wheel
from staticml.runtimes import PYODIDE_PYTHON

_PURE = re.compile(r"-(py2\.py3|py3|py3\d*)-none-any\.whl\Z")
_PINNED = re.compile(
    r"\A[A-Za-z0-9][A-Za-z0-9._-]*[ ]*==[ ]*[^\s;]+([ ]+--hash=sha256:[0-9a-f]{64})+[ ]*\Z"
)
_HASH = re.compile(r"\s+--hash=\S+")


def fetch_dependencies(config: AppConfig) -> tuple[Wheel, ...]:
    requirements = config.preprocess.dependencies
    if not requirements:
        return ()
    unpinned = [r for r in requirements if not _PINNED.match(r)]
    if unpinned:
        _refuse_unpinned(
            f"{', '.join(map(repr, unpinned))} is not pinned with a hash", requirements
        )
    with tempfile.TemporaryDirectory(prefix="staticml-deps-") as folder:
        try:
            _download(requirements, Path(folder), require_hashes=True)
        except _NeedsPins:
            _refuse_unpinned("a package they need is not pinned with a hash", requirements)
        return tuple(_wheel(path) for path in _pure_wheels(Path(folder)))


class _NeedsPins(Exception):
    """pip found a requirement (the user's or one it pulled in) without `==` and a hash."""


def _pure_wheels(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.whl"))
    impure = [f.name for f in files if not _PURE.search(f.name)]
    if impure:
        raise BuildError(
            f"preprocess.dependencies: {', '.join(impure)} is not a pure-Python wheel; only "
            "pure-Python packages run in the browser here."
        )
    return files


def pinned_line(wheel: Path) -> str:
    """`name==version --hash=sha256:…` for a downloaded wheel."""
    name, version = wheel.name.split("-")[:2]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{name.replace('_', '-').lower()}=={version} --hash=sha256:{digest}"


def _refuse_unpinned(problem: str, requirements: tuple[str, ...]) -> None:
    """Download without hashes only to tell the user the pins to paste, then refuse."""
    with tempfile.TemporaryDirectory(prefix="staticml-deps-") as folder:
        plain = tuple(_HASH.sub("", r) for r in requirements)
        _download(plain, Path(folder), require_hashes=False)
        lines = [pinned_line(path) for path in _pure_wheels(Path(folder))]
    raise BuildError(
        f"preprocess.dependencies: {problem}. Every requirement, and each package it needs, "
        "must be `name==version --hash=sha256:…` (docs/configuration.md). What pip downloaded "
        "now hashes to:\n"
        + "\n".join(f'  "{line}",' for line in lines)
        + "\nCheck these are the packages you meant, then put them in preprocess.dependencies."
    )


def _download(requirements: tuple[str, ...], folder: Path, *, require_hashes: bool) -> None:
    listing = folder / "requirements.txt"
    listing.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
        "--python-version", PYODIDE_PYTHON, "--dest", str(folder), "-r", str(listing),
        *(["--require-hashes"] if require_hashes else []),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    listing.unlink()
    if completed.returncode == 0:
        return
    _explain_hash_failure(completed.stderr)
    missing = re.findall(r"No matching distribution found for (\S+)", completed.stderr)
    detail = [line for line in completed.stderr.splitlines() if line.startswith("ERROR")]
    if missing:
        raise BuildError(
            f"preprocess.dependencies: {', '.join(missing)} has no pure-Python wheel for "
            f"Python {PYODIDE_PYTHON} (the browser's Python): packages with compiled code, or "
            "published only as source, cannot be shipped. Use a pure-Python alternative or do "
            "this step at build time."
        )
    raise BuildError(
        "preprocess.dependencies: pip could not download "
        f"{', '.join(requirements)}:\n" + "\n".join(detail or completed.stderr.splitlines()[-5:])
    )


def _explain_hash_failure(stderr: str) -> None:
    if "DO NOT MATCH THE HASHES" in stderr:
        detail = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise BuildError(
            "preprocess.dependencies: a downloaded file does not match its pinned hash, so it "
            "is not the file that was pinned (the index changed it, or the pin is wrong):\n  "
            + "\n  ".join(detail[-4:])
            + "\nCheck the package before changing its --hash."
        )
    if "pinned with ==" in stderr or "Hashes are required in --require-hashes" in stderr:
        raise _NeedsPins


def _wheel(path: Path) -> Wheel:
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    tops = sorted(
        {
            name.split("/")[0].removesuffix(".py")
            for name in names
            if not name.split("/")[0].endswith((".dist-info", ".data"))
        }
    )
    return Wheel(filename=path.name, data=data, top_level=tuple(tops), sources=())
