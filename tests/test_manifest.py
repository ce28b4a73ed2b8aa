from __future__ import annotations

import json

from staticml.config import load_config
from staticml.stages.assets import from_bytes
from staticml.stages.manifest import bundle_manifest, release_id
from staticml.stages.precompress import Encoded
from tests.conftest import APP_DIR


def test_manifest_lists_assets_sorted_with_encodings():
    assets = [
        from_bytes("b.js", b"bbb", "script"),
        from_bytes("index.html", b"<p>", "page", hashed=False),
    ]
    encoded = {assets[0].path: (Encoded("br", b"x"), Encoded("gzip", b"yy"))}
    runtime = {
        "wheels": ["w.whl"],
        "python": {"entry": "a:b"},
        "model": {"url": "m.onnx"},
        "ort": {},
    }
    manifest = json.loads(
        bundle_manifest(load_config(APP_DIR), "r1", assets, encoded, {"runtime": runtime})
    )
    assert manifest["predict"] == {
        "wheels": ["w.whl"],
        "python": {"entry": "a:b"},
        "model": {"url": "m.onnx"},
    }
    assert list(manifest["assets"]) == sorted(a.path for a in assets)
    assert manifest["assets"][assets[0].path]["encodings"] == {"br": 1, "gzip": 2}
    assert manifest["assets"]["index.html"] == {
        "kind": "page",
        "size": 3,
        "sha256": assets[1].sha256,
        "immutable": False,
        "encodings": {},
    }
    assert manifest["release"] == "r1" and manifest["app"]["name"] == "digits"


def test_release_id_changes_with_any_asset_or_the_page_source():
    a, b = from_bytes("a.js", b"1", "script"), from_bytes("b.js", b"2", "script")
    base = release_id([a, b], "page")
    assert release_id([b, a], "page") == base
    assert release_id([a, from_bytes("b.js", b"3", "script")], "page") != base
    assert release_id([a, b], "other page") != base
