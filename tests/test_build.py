"""The built site as a whole: manifest, page, vendored files, determinism."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import brotli
import pytest

from staticml.config import load_config
from staticml.hashing import integrity
from staticml.runtimes import RUNTIMES
from staticml.stages import build_app
from tests.conftest import APP_DIR

VARIANT = re.compile(r"\.(br|gz)$")


@pytest.fixture(scope="module")
def manifest(built_site):
    return json.loads((built_site.path / "bundle.json").read_text())


def test_the_manifest_lists_every_file_with_size_and_hash(built_site, manifest):
    site = built_site.path
    on_disk = {
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and not VARIANT.search(p.name) and p.name != "bundle.json"
    }
    assert on_disk == set(manifest["assets"])
    for path, meta in manifest["assets"].items():
        data = (site / path).read_bytes()
        assert meta["size"] == len(data), path
        assert meta["sha256"] == hashlib.sha256(data).hexdigest(), path
        for encoding, size in meta["encodings"].items():
            packed = (site / (path + {"br": ".br", "gzip": ".gz"}[encoding])).read_bytes()
            assert len(packed) == size
            assert (
                brotli.decompress(packed) if encoding == "br" else gzip.decompress(packed)
            ) == data


def test_immutable_assets_have_content_hashed_paths(manifest):
    for path, meta in manifest["assets"].items():
        if meta["immutable"]:
            assert re.search(r"[0-9a-f]{12}", path), path
            assert meta["sha256"][:12] in path or "/runtime/" in f"/{path}", path
        else:
            assert path == "index.html"


def test_only_the_pinned_runtime_files_are_vendored(manifest):
    runtime_files = sorted(
        p.rsplit("/", 1)[1] for p in manifest["assets"] if p.startswith("runtime/")
    )
    assert runtime_files == sorted(f for spec in RUNTIMES for f in spec.files)
    assert manifest["runtimes"] == {"pyodide": "314.0.7", "onnxruntime-web": "1.30.0"}
    assert not any("jsep" in p or "webgpu" in p for p in manifest["assets"])


def test_the_page_links_hashed_assets_with_integrity(built_site, manifest):
    html = (built_site.path / "index.html").read_text()
    for path in re.findall(r'(?:src|href)="([^"]+)"', html):
        meta = manifest["assets"][path]
        if path.endswith((".js", ".css")):
            assert f'integrity="{integrity(meta["sha256"])}"' in html
    config = json.loads(
        re.search(
            r'<script type="application/json" id="staticml-config">(.*?)</script>', html, re.S
        ).group(1)
    )
    runtime = config["runtime"]
    urls = [
        config["worker"],
        config["samples"],
        runtime["pyodide"]["module"],
        runtime["ort"]["module"],
        runtime["ort"]["wasm"],
        runtime["model"]["url"],
        *runtime["wheels"],
    ]
    assert all(url in manifest["assets"] for url in urls)
    for url, meta in runtime["assets"].items():
        assert meta["integrity"] == integrity(manifest["assets"][url]["sha256"])
    assert config["release"] == manifest["release"]
    assert "<script>" not in html and " style=" not in html, (
        "inline script or style would break the CSP"
    )


def test_the_build_prints_progress_and_a_summary(built_site):
    output = built_site.build_output
    assert "Training the model and converting it to ONNX" in output
    assert re.search(r"Built release [0-9a-f]{12}", output)
    files = len(json.loads((built_site.path / "bundle.json").read_text())["assets"])
    assert re.search(rf"all {files} files\s+│\s+[\d.]+ MB\s+│\s+[\d.]+ MB\s+│\s+[\d.]+ MB", output)
    assert "20 sample(s) shipped with CPython reference predictions" in output
    assert "Next: staticml serve" in output


def test_a_second_build_is_identical(built_site, tmp_path):
    result = build_app(load_config(APP_DIR), tmp_path / "again")
    first = json.loads((built_site.path / "bundle.json").read_text())["assets"]
    second = json.loads((tmp_path / "again" / "bundle.json").read_text())["assets"]
    hashes = {path: meta["sha256"] for path, meta in first.items()}
    changed = sorted(
        p for p in set(first) | set(second) if hashes.get(p) != second.get(p, {}).get("sha256")
    )
    assert changed == [], "assets whose content differs between builds"
    assert (tmp_path / "again" / "bundle.json").read_bytes() == (
        built_site.path / "bundle.json"
    ).read_bytes()
    assert (tmp_path / "again" / "index.html").read_bytes() == (
        built_site.path / "index.html"
    ).read_bytes()
    assert result.samples == 20 and result.served_bytes("br") < result.raw_bytes / 3
