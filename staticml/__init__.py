"""staticml: ship a model and its Python preprocessing as a static site that predicts in the browser."""

from __future__ import annotations

__version__ = "0.1.0"
