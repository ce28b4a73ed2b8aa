"""The releases a collector accepts: each bundle directory's release id and its baseline."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from staticml.baseline import Baseline, BaselineError, baseline_from_json
from staticml.errors import CollectorError
from staticml.hashing import sha256_hex
from staticml.runtime.contract import MANIFEST, ReleaseListing

BASELINE_KIND = "baseline"


def load_bundle(directory: Path) -> tuple[str, str]:
    """(release id, baseline JSON text) of the built site in `directory`."""
    manifest_path = directory / MANIFEST
    try:
        manifest = ReleaseListing.read(manifest_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectorError(
            f"{manifest_path} is not a staticml manifest ({exc}); give --bundle the folder a "
            "build wrote (it holds bundle.json)."
        ) from exc
    listed = [(path, meta) for path, meta in manifest.assets.items() if meta.kind == BASELINE_KIND]
    if len(listed) != 1:
        raise CollectorError(
            f"{manifest_path} lists {len(listed)} baseline assets, expected one: build the app "
            "with drift monitoring enabled so the bundle ships its baseline."
        )
    path, meta = listed[0]
    try:
        data = (directory / path).read_bytes()
    except OSError as exc:
        raise CollectorError(f"{directory / path} is missing ({exc}); rebuild the bundle.") from exc
    if sha256_hex(data) != meta.sha256:
        raise CollectorError(
            f"{directory / path} does not match the sha256 in {manifest_path}; rebuild the bundle."
        )
    return manifest.release, data.decode("utf-8")


def parse_baselines(texts: Mapping[str, str]) -> dict[str, Baseline]:
    """Baselines by release from their JSON texts; a malformed one is a CollectorError."""
    try:
        return {
            release: baseline_from_json(json.loads(text), f"baseline of release {release}")
            for release, text in texts.items()
        }
    except (ValueError, BaselineError) as exc:
        raise CollectorError(str(exc)) from exc


def load_bundles(directories: Iterable[Path]) -> dict[str, str]:
    """Baseline JSON texts by release for every bundle; one release may be given twice."""
    texts: dict[str, str] = {}
    for directory in directories:
        release, text = load_bundle(directory)
        if texts.get(release, text) != text:
            raise CollectorError(
                f"Release {release} is given twice with different baselines ({directory}); "
                "pass each release's bundle once."
            )
        texts[release] = text
    return texts
