"""Import the app's build-time code (training, samples) without leaking it between builds."""

from __future__ import annotations

import importlib
import linecache
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from staticml.config import CONFIG_FILE, EntryPoint, line_of
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
            f"{named(setting, entry, app_dir)}: importing {entry.module!r} from {app_dir} "
            f"failed: {describe(exc, app_dir)}"
        ) from exc
    function = getattr(module, entry.function, None)
    if not callable(function):
        raise BuildError(
            f"{named(setting, entry, app_dir)}: module {entry.module!r} "
            f"({getattr(module, '__file__', '?')}) has no function {entry.function!r}. Define it "
            "or fix the setting."
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
        raise BuildError(
            f"{named(setting, entry, app_dir)} raised {describe(exc, app_dir)}"
        ) from exc


def named(setting: str, entry: EntryPoint, app_dir: Path) -> str:
    """`setting = 'module:function' (staticml.toml:LINE)`, as an error names an app function."""
    try:
        line = line_of((app_dir / CONFIG_FILE).read_text(encoding="utf-8"), setting)
    except OSError:
        line = None
    return f"{setting} = '{entry}'" + (f" ({CONFIG_FILE}:{line})" if line else "")


MAX_FRAMES = 8
"""The innermost frames of the app's code an error report shows."""


def describe(exc: BaseException, app_dir: Path) -> str:
    """`Type: message`, then the frames of the app's own code it passed through, innermost
    last, each as `file:line in function` and its source line: no staticml or library frames.
    """
    return f"{type(exc).__name__}: {exc}{shown_frames(exc, app_dir)}"


def shown_frames(exc: BaseException, app_dir: Path) -> str:
    """The lines `describe` adds after the message (empty without a frame in the app's code)."""
    return format_frames(app_frames(exc, app_dir), app_dir)


def format_frames(frames: list[tuple[str, traceback.FrameSummary]], root: Path | None) -> str:
    """Each frame as `\n  path:line in function` and `\n    source line`, the innermost last;
    a line the traceback lost is read from `root / path`."""
    lines = []
    if len(frames) > MAX_FRAMES:
        lines.append(f"  ({len(frames) - MAX_FRAMES} outer frames of the app's code left out)")
    for path, frame in frames[-MAX_FRAMES:]:
        lines.append(f"  {path}:{frame.lineno} in {frame.name}")
        source = frame.line
        if not source and root is not None:
            source = linecache.getline(str(root / path), frame.lineno or 0).strip()
        if source:
            lines.append(f"    {source}")
    return "".join(f"\n{line}" for line in lines)


def packaged_frames(exc: BaseException, package: str) -> list[tuple[str, traceback.FrameSummary]]:
    """The frames of `exc`'s traceback in `package` as imported from a wheel (a bundle's
    preprocessing: `.../name.whl/PACKAGE/module.py`), each with its path in the wheel."""
    found = []
    for frame in traceback.extract_tb(exc.__traceback__):
        inside = frame.filename.replace("\\", "/").partition(".whl/")[2]
        if inside.startswith(f"{package}/"):
            found.append((inside, frame))
    return found


def app_frames(exc: BaseException, app_dir: Path) -> list[tuple[str, traceback.FrameSummary]]:
    """The frames of `exc`'s traceback in the app's code, each with its file relative to
    `app_dir`. Code imported from a wheel the build packed (`.../name.whl/pkg/module.py`)
    counts as the app's when the app directory holds that file."""
    found = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = _app_path(frame.filename, app_dir)
        if path is not None:
            found.append((path, frame))
    return found


def _app_path(filename: str, app_dir: Path) -> str | None:
    path = Path(filename)
    for candidate in (path, path.resolve()) if path.is_absolute() else ():
        if candidate.is_relative_to(app_dir):
            return candidate.relative_to(app_dir).as_posix()
    _, wheel, inside = filename.replace("\\", "/").partition(".whl/")
    if wheel and (app_dir / inside).is_file():
        return inside
    return None
