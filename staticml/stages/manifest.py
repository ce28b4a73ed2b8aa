"""Stage: `bundle.json`, the manifest listing every asset with its size, hash and encodings.

It holds no timestamps: the same inputs give byte-identical manifests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from staticml.config import AppConfig
from staticml.contract import MANIFEST_FORMAT
from staticml.hashing import NAME_HASH_LENGTH, tree_digest
from staticml.runtimes import RUNTIMES
from staticml.stages.assets import Asset
from staticml.stages.precompress import Encoded
from staticml.version import __version__


def release_id(assets: Iterable[Asset], page_source: str) -> str:
    """Identity of a build: its immutable assets plus what the page is rendered from."""
    entries = [(a.path, a.sha256) for a in assets]
    entries.append(("\0page", tree_digest([("source", page_source)])))
    return tree_digest(entries)[:NAME_HASH_LENGTH]


def bundle_manifest(
    config: AppConfig,
    release: str,
    assets: Iterable[Asset],
    encoded: Mapping[str, tuple[Encoded, ...]],
    page: Mapping[str, Any],
    report: str | None = None,
    scripts: Iterable[str] = (),
) -> bytes:
    """The manifest. From the page configuration it keeps `predict` (the wheels in install
    order, the preprocessing spec, the model's inputs and outputs), so tools other than the page
    (batch scoring, verification) run the bundle exactly as the browser does, and `monitor`
    (where summaries go), which servers need for the Content Security Policy. `report` names
    the model report: a record of the build written beside the release and, like the manifest
    itself, not listed in it. `scripts` are the hashes of the page's inline scripts (its import
    map), which servers need for the Content Security Policy too."""
    runtime = page["runtime"]
    listing = {
        asset.path: {
            "kind": asset.kind,
            "size": asset.size,
            "sha256": asset.sha256,
            "immutable": asset.immutable,
            "encodings": {e.encoding: len(e.data) for e in encoded.get(asset.path, ())},
        }
        for asset in sorted(assets, key=lambda a: a.path)
    }
    manifest = {
        "format": MANIFEST_FORMAT,
        "generator": f"staticml {__version__}",
        "app": {"name": config.name, "title": config.title},
        "release": release,
        "entry": "index.html",
        "runtimes": {spec.package: spec.version for spec in RUNTIMES},
        "predict": {key: runtime[key] for key in ("wheels", "python", "model")},
        "monitor": {"collector": (page.get("monitor") or {}).get("collector")},
        "report": report,
        "scripts": list(scripts),
        "assets": listing,
    }
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
