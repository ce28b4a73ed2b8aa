"""The Python API for notebooks and pipelines: the same functions the CLI calls."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from staticml.config import load_config, with_compress_mode
from staticml.progress import SilentReporter, stderr_reporter
from staticml.stages import BuildResult, build_app

if TYPE_CHECKING:
    from distributed import Client

    from staticml.scoring.job import BatchResult


def build(
    app_dir: Path | str,
    out_dir: Path | str = "dist",
    *,
    verify: bool = False,
    compress: str | None = None,
    node_modules: Path | str | None = None,
    cache_dir: Path | str | None = None,
    progress: bool = False,
    browser: bool = True,
) -> BuildResult:
    """Build an app directory into a static site and return what was built.

    The result has the output folder, the release id, every asset with its size and hash,
    the compressed variants, the model report, and (with `verify=True`) the browser
    verification. `compress` overrides `compress.mode` (`off`, `auto` or a variant's name).
    `browser=False` runs no step in Chromium (the CLI's `--no-browser`): the model ships
    uncompressed, without the Python snapshot, unverified; `result.skipped` says so.
    Raises `staticml.errors.StaticMLError` with a readable message on any problem.
    """
    return build_app(
        with_compress_mode(load_config(app_dir), compress, browser=browser),
        Path(out_dir),
        node_modules=Path(node_modules) if node_modules else None,
        cache_dir=Path(cache_dir) if cache_dir else None,
        reporter=stderr_reporter() if progress else SilentReporter(),
        verify=verify,
        browser=browser,
    )


def batch(
    bundle: Path | str,
    input: Path | str,
    output: Path | str,
    *,
    errors: Path | str | None = None,
    format: str | None = None,
    chunk_rows: int | None = None,
    cluster: str | Client | None = None,
    progress: bool = False,
) -> BatchResult:
    """Score a CSV or Parquet file with a built bundle, as its page would, into `output`.

    Every input row is in the output (CSV or Parquet, from the suffix or `format`) with its
    prediction or, in the `error` column, why it has none; the failures are also listed with
    their row numbers in `errors` (default: `<output stem>.errors.csv`). `cluster` runs the
    job on Dask: "local" (two local worker processes), a scheduler address such as
    "tcp://10.0.0.5:8786", or a `distributed.Client`. Raises `staticml.errors.StaticMLError`
    with a readable message when the bundle, a file or the cluster is unusable.
    """
    from staticml.scoring import DEFAULT_CHUNK_ROWS
    from staticml.scoring.job import BatchJob, run_batch

    job = BatchJob(
        Path(bundle),
        Path(input),
        Path(output),
        errors=Path(errors) if errors else None,
        format=format,
        chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
        cluster=cluster,
    )
    return run_batch(job, stderr_reporter() if progress else SilentReporter())
