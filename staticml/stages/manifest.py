"""Stage: `bundle.json`, the manifest listing every asset with its size, hash and encodings.

It holds no timestamps: the same inputs give byte-identical manifests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from staticml.config import AppConfig
from staticml.hashing import NAME_HASH_LENGTH, tree_digest
from staticml.runtime.contract import (
    MANIFEST_FORMAT,
    AppName,
    BundleManifest,
    ListedAsset,
    MonitorTarget,
    PageConfig,
    Predict,
)
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
    page: PageConfig,
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
    manifest = BundleManifest(
        format=MANIFEST_FORMAT,
        generator=f"staticml {__version__}",
        app=AppName(config.app.name, config.app.title),
        release=release,
        entry="index.html",
        runtimes={spec.package: spec.version for spec in RUNTIMES},
        predict=Predict.of(page.runtime),
        monitor=MonitorTarget(page.monitor.collector if page.monitor else None),
        report=report,
        scripts=tuple(scripts),
        assets={
            asset.path: ListedAsset(
                kind=asset.kind,
                size=asset.size,
                sha256=asset.sha256,
                immutable=asset.immutable,
                encodings={e.encoding: len(e.data) for e in encoded.get(asset.path, ())},
            )
            for asset in sorted(assets, key=lambda a: a.path)
        },
    )
    return (json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n").encode("utf-8")
