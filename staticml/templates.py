"""The Jinja environments the page and the report are rendered with, one per search path.

Compiling a template takes longer than rendering it (about half a second together on a loaded
2-core machine), which every rebuild of `staticml serve --watch` paid again. An environment
kept for the process keeps its compiled templates, and Jinja's `auto_reload` compiles one again
when its file's mtime changes, so an edited page template is still picked up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

Filters = tuple[tuple[str, Callable[..., Any]], ...]


@functools.lru_cache(maxsize=16)
def environment(search_path: tuple[Path, ...], filters: Filters = ()) -> jinja2.Environment:
    made = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search_path)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    made.filters.update(dict(filters))
    return made
