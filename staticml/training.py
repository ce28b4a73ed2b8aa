"""Run the app's training function in a fresh, single-threaded process with a fixed environment.

Bit-for-bit reproducible training needs the same floating-point operations in the same order.
Three things outside the app's code choose them, and the child process pins each one:

- threads: BLAS and OpenMP split sums by thread count, so the math libraries get one thread
  before they load (and `threadpool_limits` covers libraries loaded later);
- kernels: OpenBLAS picks its matrix kernels from the processor, and the kernels sum in other
  orders (measured here: a float64 product differs between the SkylakeX, Haswell and
  Sandybridge kernels), and the caller's environment may pick one too (`OPENBLAS_CORETYPE`,
  `OPENBLAS_L2_SIZE`). On x86-64 with AVX2 the child always runs the Haswell kernels, which
  every such processor has, so two machines of different generations train alike;
- the environment: the child inherits none of the caller's variables that steer the math
  libraries or Python (a test runner's, a CI job's), and runs with hash randomisation off.

The fitted estimator comes back as a joblib file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.hashing import sha256_hex
from staticml.settings import EntryPoint
from staticml.version import PACKAGE, __version__

SINGLE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}
# Variables with which the caller's environment could pick threads, kernels or code paths of the
# math libraries: the child gets none of them but those SINGLE_THREAD and the kernel pin set.
_NUMERIC_PREFIXES = (
    "OPENBLAS_",
    "GOTO",
    "OMP_",
    "KMP_",
    "MKL_",
    "BLIS_",
    "NPY_",
    "NUMPY_",
    "PYTHON",
)
PORTABLE_KERNELS = "Haswell"


def training_environment(cpu_flags: frozenset[str] | None = None) -> dict[str, str]:
    """The child's environment: the caller's, less anything that can change the numbers."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(_NUMERIC_PREFIXES)
    }
    environment.update(SINGLE_THREAD)
    paths = [str(PACKAGE.parent), os.environ.get("PYTHONPATH")]
    environment["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    flags = _cpu_flags() if cpu_flags is None else cpu_flags
    if platform.machine().lower() in {"x86_64", "amd64"} and {"avx2", "fma"} <= flags:
        environment["OPENBLAS_CORETYPE"] = PORTABLE_KERNELS
    return environment


def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def train_in_subprocess(
    entry: EntryPoint, app_dir: Path, setting: str = "model.train", args: tuple[Any, ...] = ()
) -> Any:
    """The fitted estimator `entry(*args)` returns, computed in a child process."""
    import joblib

    from staticml.app_code import isolated_imports

    with tempfile.TemporaryDirectory(prefix="staticml-train-") as folder:
        model, error = Path(folder) / "model.joblib", Path(folder) / "error.json"
        arguments = Path(folder) / "arguments.joblib"
        joblib.dump(args, arguments)
        command = [
            sys.executable,
            "-m",
            __name__,
            str(app_dir),
            str(entry),
            setting,
            str(arguments),
            str(model),
            str(error),
        ]
        completed = subprocess.run(
            command,
            env=training_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if error.is_file():
            raise BuildError(json.loads(error.read_text(encoding="utf-8"))["message"])
        if completed.returncode != 0 or not model.is_file():
            tail = "\n".join(completed.stderr.strip().splitlines()[-8:])
            raise BuildError(
                f"{setting} = '{entry}' stopped the training process ({completed.returncode}):\n{tail}"
            )
        with isolated_imports(app_dir):  # classes defined by the app must be importable to load
            return joblib.load(model)


def cached_training(entry: EntryPoint, app_dir: Path, cache_dir: Path) -> Any:
    """The build's `model.train`, kept in the build cache under a digest of the app's files and
    the libraries that train it. Training again gives the same bytes; the cache only saves the
    time (the demo trains for about a minute)."""
    import joblib

    from staticml.app_code import isolated_imports

    cached = cache_dir / "training" / f"{_training_key(entry, app_dir)}.joblib"
    if cached.is_file():
        with isolated_imports(app_dir):
            return joblib.load(cached)
    estimator = train_in_subprocess(entry, app_dir)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    joblib.dump(estimator, partial)
    partial.replace(cached)
    return estimator


def _training_key(entry: EntryPoint, app_dir: Path) -> str:
    import importlib.metadata

    digest = hashlib.sha256(f"{entry}\n{sys.version}\n{__version__}\n".encode())
    for library in ("scikit-learn", "numpy", "scipy", "joblib", "xgboost", "lightgbm"):
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library} {version}\n".encode())
    for path in sorted(app_dir.rglob("*")):
        relative = path.relative_to(app_dir)
        if path.is_file() and not any(
            part.startswith(".") or part == "__pycache__" for part in relative.parts
        ):
            digest.update(f"{relative.as_posix()}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _main(
    app_dir: str, entry_text: str, setting: str, arguments: str, model: str, error: str
) -> int:
    import joblib

    from staticml.app_code import call, isolated_imports
    from staticml.settings.parsers import entry_point

    root = Path(app_dir)
    try:
        with isolated_imports(root):
            args = tuple(joblib.load(arguments))
            estimator = call(entry_point(entry_text), setting, root, True, args)
            joblib.dump(estimator, model)
    except BuildError as exc:
        Path(error).write_text(json.dumps({"message": str(exc)}), encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:7]))


def source_digest(config: AppConfig) -> str | None:
    """sha256 of the model file, or of the module holding the training function: what retrain
    compares to tell whether the model's source changed since a build."""
    if config.model.file is not None:
        return sha256_hex(config.model.file.read_bytes())
    assert config.model.train is not None
    base = config.app_dir.joinpath(*config.model.train.module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return sha256_hex(path.read_bytes())
    return None
