from __future__ import annotations

import json

from staticml.config import load_config
from staticml.runtime.contract import (
    AppName,
    ModelFile,
    OrtFiles,
    OutputSpec,
    PageConfig,
    PredictSpec,
    PyodideFiles,
    ShownOutput,
    WorkerConfig,
    WorkerModules,
)
from staticml.stages.assets import from_bytes
from staticml.stages.manifest import bundle_manifest, release_id
from staticml.stages.precompress import Encoded
from tests.support import APP_DIR

SPEC = OutputSpec("regression", "input", 1, value="variable")


def page() -> PageConfig:
    """A page configuration with a worker part: the manifest keeps what runs the bundle."""
    runtime = WorkerConfig(
        pyodide=PyodideFiles("0.29", "p/"),
        ort=OrtFiles("1.23", "o/ort.mjs", "o/glue.mjs", "o/", "o/ort.wasm"),
        modules=WorkerModules(
            "static/checked-fetch.js", "wasm/batch.mjs", "wasm/python.mjs", "wasm/model.mjs"
        ),
        wheels=("w.whl",),
        python=PredictSpec(entry="a:b", n_features=1, fields=()),
        model=ModelFile("m.onnx", "ab", SPEC),
    )
    return PageConfig(
        app=AppName("page", "Page"),
        release="r1",
        staticml="0",
        boot_timeout_ms=1,
        worker="w.mjs",
        service_worker="sw.js",
        rollout="r.js",
        integrity={},
        fields=(),
        output=ShownOutput(SPEC),
        batch=True,
        runtime=runtime,
    )


def test_manifest_lists_assets_sorted_with_encodings():
    assets = [
        from_bytes("b.js", b"bbb", "script"),
        from_bytes("index.html", b"<p>", "page", hashed=False),
    ]
    encoded = {assets[0].path: (Encoded("br", b"x"), Encoded("gzip", b"yy"))}
    script = "sha256-" + "A" * 43 + "="
    manifest = json.loads(
        bundle_manifest(load_config(APP_DIR), "r1", assets, encoded, page(), scripts=[script])
    )
    assert manifest["scripts"] == [script]
    assert manifest["predict"] == {
        "wheels": ["w.whl"],
        "python": {
            "entry": "a:b",
            "nFeatures": 1,
            "fields": [],
            "batch": None,
            "inputs": [],
            "output": None,
            "monitor": None,
        },
        "model": {"url": "m.onnx", "sha256": "ab", **SPEC.to_json()},
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
