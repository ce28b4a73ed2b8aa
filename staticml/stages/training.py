"""Run the app's training function in a fresh, single-threaded Python process.

Bit-for-bit reproducible training needs the same floating-point operations in the same order.
BLAS libraries pick threads, and sometimes kernels, from the state of the process that calls
them, so the same training call gave different weights in the long-lived test process than in
a fresh `staticml build`. A fresh child process, its math libraries pinned to one thread before
they load, trains the same way every time; the fitted estimator comes back as a joblib file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from staticml.errors import BuildError
from staticml.settings import EntryPoint

SINGLE_THREAD = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}


def train_in_subprocess(
    entry: EntryPoint, app_dir: Path, setting: str = "model.train", args: tuple[Any, ...] = ()
) -> Any:
    """The fitted estimator `entry(*args)` returns, computed in a child process."""
    import joblib

    from staticml.stages.imports import isolated_imports

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
            env={**os.environ, **SINGLE_THREAD},
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
    the libraries that train it. Even in a fresh single-threaded process the training was seen
    to give other weights now and then on a busy machine, so a rebuild of the same inputs reuses
    the first result rather than training again: same inputs, same model bytes."""
    import joblib

    from staticml.stages.imports import isolated_imports

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

    import staticml

    digest = hashlib.sha256(f"{entry}\n{sys.version}\n{staticml.__version__}\n".encode())
    for library in ("scikit-learn", "numpy", "scipy", "joblib"):
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

    from staticml.settings import entry_point
    from staticml.stages.imports import call, isolated_imports

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
