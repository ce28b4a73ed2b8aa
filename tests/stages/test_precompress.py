from __future__ import annotations

import gzip
import os

import brotli
import pytest

from staticml.stages.assets import from_bytes
from staticml.stages.precompress import precompress, precompress_ahead

TEXT = b"".join(
    f"line {i % 50} of some very repetitive javascript;\n".encode() for i in range(2000)
)


def test_variants_decode_to_the_original(tmp_path):
    asset = from_bytes("static/app.js", TEXT, "script")
    encoded = precompress([asset], 5, tmp_path)[asset.path]
    by = {e.encoding: e.data for e in encoded}
    assert brotli.decompress(by["br"]) == TEXT and gzip.decompress(by["gzip"]) == TEXT
    assert len(by["br"]) < len(TEXT) / 5


def test_incompressible_or_tiny_files_get_no_variants(tmp_path):
    noise = from_bytes("model/model.onnx", os.urandom(50_000), "model")
    tiny = from_bytes("static/a.css", b"a{}", "style")
    image = from_bytes("static/x.png", TEXT, "static")
    assert precompress([noise, tiny, image], 5, tmp_path) == {noise.path: ()}


def test_the_cache_is_used_and_a_corrupt_entry_is_replaced(tmp_path):
    asset = from_bytes("static/app.js", TEXT, "script")
    first = precompress([asset], 5, tmp_path)
    cached = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(cached) == 2
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert precompress([asset], 5, tmp_path) == first
    assert [p.stat().st_mtime_ns for p in cached] == stamps, "cached variants were recomputed"
    cached[0].write_bytes(b"garbage")
    assert precompress([asset], 5, tmp_path) == first


def test_precompressing_ahead_leaves_precompress_nothing_to_do(tmp_path):
    assets = [from_bytes(f"runtime/{i}.wasm", TEXT * (i + 1), "runtime") for i in range(3)]
    assert precompress_ahead(assets, 5, tmp_path).result(timeout=60) is None
    cached = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(cached) == 6
    stamps = [p.stat().st_mtime_ns for p in cached]
    encoded = precompress(assets, 5, tmp_path)
    assert [p.stat().st_mtime_ns for p in cached] == stamps, "precompress did the work again"
    for asset in assets:
        by = {e.encoding: e.data for e in encoded[asset.path]}
        assert brotli.decompress(by["br"]) == asset.data


def test_a_failure_ahead_is_left_for_precompress_to_report(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    asset = from_bytes("runtime/a.wasm", TEXT, "runtime")
    failure = precompress_ahead([asset], 5, blocked).exception(timeout=60)
    assert isinstance(failure, OSError)
    with pytest.raises(OSError):
        precompress([asset], 5, blocked)
