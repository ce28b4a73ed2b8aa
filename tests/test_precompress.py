from __future__ import annotations

import gzip
import os

import brotli

from staticml.stages.assets import from_bytes
from staticml.stages.precompress import precompress

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
