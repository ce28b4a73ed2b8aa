"""Import maps: how a page's ES modules find each other's content-hashed files, with integrity.

A module imports its siblings by their source names (`./runtime.js`); the page's import map
maps each name to the file the build wrote (`./static/runtime.<hash>.js`) and gives the browser
the sha256 it must check that file against, for static and dynamic imports alike: a changed
module never runs. The map is an inline script, so the Content Security Policy allows exactly
its hash (`staticml.headers.content_security_policy`). Workers have no import maps: the worker
checks its modules itself (`wasm/worker.mjs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jinja2.utils import htmlsafe_json_dumps

from staticml.hashing import integrity, sha256_hex

OPENING = '<script type="importmap">'
CLOSING = "</script>"
_IMPORT_MAP = re.compile(re.escape(OPENING) + "(.*?)" + re.escape(CLOSING), re.S)


def import_map(modules: Iterable[tuple[str, str, str]]) -> str:
    """The map's JSON for `modules`, each (source path, served path, sha256 hex), both paths
    relative to the page. It can never close its `<script>` element (`<`, `>`, `&`, `'` are
    escaped as Jinja's `tojson` does)."""
    listed = sorted(modules)
    value = {
        "imports": {f"./{source}": f"./{served}" for source, served, _ in listed},
        "integrity": {f"./{served}": integrity(digest) for _, served, digest in listed},
    }
    return str(htmlsafe_json_dumps(value, sort_keys=True))


def element(text: str) -> str:
    return f"{OPENING}{text}{CLOSING}"


def script_hash(text: str) -> str:
    """The `sha256-...` a Content Security Policy allows the inline script `text` by."""
    return integrity(sha256_hex(text.encode("utf-8")))


def import_maps_in(html: str) -> list[str]:
    """The hashes of the import maps in a page."""
    return [script_hash(text) for text in _IMPORT_MAP.findall(html)]
