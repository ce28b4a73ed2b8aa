"""The build pipeline; `build_app` is its one entry point."""

from staticml.stages.pipeline import BuildResult, build_app

__all__ = ["BuildResult", "build_app"]
