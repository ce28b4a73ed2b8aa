"""Stage: what makes a site installable and usable offline.

- `web_manifest`: the PWA manifest (name, start URL, icon) the page links to;
- `service_worker`: `sw.js` at the site's root (a service worker controls only the folder it
  is served from), the static `sw.js` with this release's files and their integrity prepended.
  It is not content-addressed: browsers look for a new version of it at its fixed URL, and a
  new release changes its bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from staticml.config import AppConfig
from staticml.hashing import integrity
from staticml.runtime.contract import SERVICE_WORKER
from staticml.stages import assets as make
from staticml.stages.assets import Asset

WEB_MANIFEST = "manifest.webmanifest"
PAGE = "index.html"


def web_manifest(config: AppConfig, icon: Asset) -> Asset:
    manifest = {
        "name": config.app.title,
        "short_name": config.app.name,
        "description": config.app.description,
        "start_url": "../",
        "scope": "../",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e79",
        # Relative to the manifest, which lives in static/ beside the icon.
        "icons": [{"src": Path(icon.path).name, "sizes": "any", "type": "image/svg+xml"}],
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return make.from_bytes(f"static/{WEB_MANIFEST}", text.encode("utf-8"), "static")


def service_worker(release: str, files: Iterable[Asset], site: Path) -> Asset:
    """`sw.js` precaching `files` (the release's immutable assets and the page)."""
    precache = {
        "release": release,
        "files": {
            a.path: integrity(a.sha256)
            for a in sorted(files, key=lambda a: a.path)
            if a.immutable or a.path == PAGE
        },
    }
    source = (site / SERVICE_WORKER).read_text(encoding="utf-8")
    text = f"const PRECACHE = {json.dumps(precache, indent=1)};\n\n{source}"
    return make.from_bytes(SERVICE_WORKER, text.encode("utf-8"), "service-worker", hashed=False)
