"""Import the app's build-time code (training, samples) without leaking it between builds."""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from staticml.config import EntryPoint
from staticml.errors import BuildError


@contextmanager
def isolated_imports(*roots: Path) -> Iterator[None]:
    """Put `roots` first on sys.path; afterwards forget every module loaded from them.

    Only modules whose files live under `roots` are forgotten: third-party modules such as
    numpy cannot be imported twice in one process.
    """
    saved_path = list(sys.path)
    prefixes = tuple({str(root) for root in roots} | {str(root.resolve()) for root in roots})
    sys.path[:0] = [str(root) for root in roots]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(prefixes):
                del sys.modules[name]


def resolve(entry: EntryPoint, setting: str, app_dir: Path) -> Callable[..., Any]:
    """The function an entry point names; a BuildError tells which setting and why not."""
    try:
        module = importlib.import_module(entry.module)
    except Exception as exc:
        raise BuildError(
            f"{setting} = '{entry}': importing {entry.module!r} from {app_dir} failed: "
            f"{_describe(exc, app_dir)}"
        ) from exc
    function = getattr(module, entry.function, None)
    if not callable(function):
        raise BuildError(
            f"{setting} = '{entry}': module {entry.module!r} ({getattr(module, '__file__', '?')}) "
            f"has no function {entry.function!r}. Define it or fix the setting."
        )
    return function


def call(
    entry: EntryPoint,
    setting: str,
    app_dir: Path,
    single_threaded: bool = False,
    args: tuple[Any, ...] = (),
) -> Any:
    """Resolve and call an app function, turning its exceptions into a BuildError.

    With `single_threaded`, BLAS and OpenMP run on one thread while the function runs, so
    floating-point sums happen in one order and training is reproducible. The limit is set
    after the module is imported, so it also covers the libraries its imports load (scipy
    brings its own OpenBLAS, which a limit set earlier would miss).
    """
    function = resolve(entry, setting, app_dir)
    limit = threadpool_limits(limits=1) if single_threaded else nullcontext()
    try:
        with limit:
            return function(*args)
    except Exception as exc:
        raise BuildError(f"{setting} = '{entry}' raised {_describe(exc, app_dir)}") from exc


def _describe(exc: BaseException, app_dir: Path) -> str:
    """`Type: message (at file:line)`, pointing at the innermost frame in the app's own code."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if str(Path(frame.filename).resolve()).startswith(str(app_dir))
    ]
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
