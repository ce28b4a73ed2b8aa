"""staticml: ship a model and its Python preprocessing as a static site that predicts in the browser."""

from __future__ import annotations

from staticml.version import __version__

__all__ = ["__version__", "batch", "build"]


def build(app_dir, out_dir="dist", **options):  # type: ignore[no-untyped-def]
    """Build the app in `app_dir` into `out_dir`; see `staticml.api.build`."""
    from staticml.api import build as _build

    return _build(app_dir, out_dir, **options)


def batch(bundle, input, output, **options):  # type: ignore[no-untyped-def]
    """Score a CSV or Parquet file with a built bundle; see `staticml.api.batch`."""
    from staticml.api import batch as _batch

    return _batch(bundle, input, output, **options)
