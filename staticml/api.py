"""The Python API for notebooks and pipelines: the same functions the CLI calls."""

from __future__ import annotations

from pathlib import Path

from staticml.config import load_config, with_compress_mode
from staticml.progress import RichReporter, SilentReporter
from staticml.stages import BuildResult, build_app


def build(
    app_dir: Path | str,
    out_dir: Path | str = "dist",
    *,
    verify: bool = False,
    compress: str | None = None,
    node_modules: Path | str | None = None,
    cache_dir: Path | str | None = None,
    progress: bool = False,
) -> BuildResult:
    """Build an app directory into a static site and return what was built.

    The result has the output folder, the release id, every asset with its size and hash,
    the compressed variants, the model report, and (with `verify=True`) the browser
    verification. `compress` overrides `compress.mode` (`off`, `auto` or a variant's name).
    Raises `staticml.errors.StaticMLError` with a readable message on any problem.
    """
    return build_app(
        with_compress_mode(load_config(app_dir), compress),
        Path(out_dir),
        node_modules=Path(node_modules) if node_modules else None,
        cache_dir=Path(cache_dir) if cache_dir else None,
        reporter=RichReporter() if progress else SilentReporter(),
        verify=verify,
    )
