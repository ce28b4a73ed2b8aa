"""Stage: the app's browser dependencies, as pure-Python wheels for Pyodide's Python.

pip resolves and downloads them (with their own dependencies) restricted to `py3-none-any`
style wheels for the Python version of the pinned Pyodide. A package without such a wheel
cannot run in the browser here, and the build says so, naming it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.runtimes import PYODIDE_PYTHON
from staticml.stages.wheels import Wheel

_PURE = re.compile(r"-(py2\.py3|py3|py3\d*)-none-any\.whl\Z")


def fetch_dependencies(config: AppConfig) -> tuple[Wheel, ...]:
    requirements = config.preprocess.dependencies
    if not requirements:
        return ()
    with tempfile.TemporaryDirectory(prefix="staticml-deps-") as folder:
        _download(requirements, Path(folder))
        files = sorted(Path(folder).iterdir())
        impure = [f.name for f in files if not _PURE.search(f.name)]
        if impure:
            raise BuildError(
                f"preprocess.dependencies: {', '.join(impure)} is not a pure-Python wheel; only "
                "pure-Python packages run in the browser here."
            )
        return tuple(_wheel(path) for path in files)


def _download(requirements: tuple[str, ...], folder: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
        "--python-version", PYODIDE_PYTHON, "--dest", str(folder), *requirements,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode == 0:
        return
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
