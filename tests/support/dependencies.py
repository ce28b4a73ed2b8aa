"""A pinned pure-Python dependency, and the wine example's config asking for dependencies."""

from __future__ import annotations

import dataclasses

from staticml.config import load_config
from tests.support import ROOT

SIX = "six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"


def with_dependencies(*requirements: str):
    config = load_config(ROOT / "examples" / "wine")
    return dataclasses.replace(
        config, preprocess=dataclasses.replace(config.preprocess, dependencies=requirements)
    )
