"""Where staticml keeps what it computed once per machine: compressed runtimes, trained models,
snapshots. `$STATICML_CACHE_DIR`, by default `~/.cache/staticml`."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "STATICML_CACHE_DIR"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "staticml")
