"""Run the app's training function in a fresh, single-threaded Python process.

Bit-for-bit reproducible training needs the same floating-point operations in the same order.
BLAS libraries pick threads, and sometimes kernels, from the state of the process that calls
them, so the same training call gave different weights in the long-lived test process than in
a fresh `staticml build`. A fresh child process, its math libraries pinned to one thread before
they load, trains the same way every time; the fitted estimator comes back as a joblib file.
"""

from __future__ import annotations

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
