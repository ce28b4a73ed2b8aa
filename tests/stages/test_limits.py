"""Every file of a site fits the hosts' per-file limit: the snapshot in parts, others refused."""

from __future__ import annotations

import os

import pytest

from staticml.errors import BuildError
from staticml.stages import assets as make
from staticml.stages.limits import MIB, check_file_sizes, shipped, split, split_large
from staticml.stages.precompress import Encoded


def snapshot_of(size: int):
    return make.runtime_file("python", "python.snapshot", os.urandom(size), "snapshot")


def test_a_file_over_the_limit_is_split_into_equal_parts_under_it_that_join_to_it():
    whole = snapshot_of(1000)
    parts = split(whole, 400)
    assert [p.size for p in parts] == [334, 334, 332]
    assert b"".join(p.read() for p in parts) == whole.read()
    folder = whole.path.rsplit("/", 1)[0]
    assert [p.path for p in parts] == [f"{folder}/python.part{n}of3.snapshot" for n in (1, 2, 3)]
    assert all(p.immutable and p.kind == "snapshot" for p in parts)
    assert len({p.sha256 for p in parts}) == 3


def test_only_the_snapshot_over_the_limit_is_split():
    small, large = snapshot_of(100), snapshot_of(500)
    model = make.from_bytes("model/model.onnx", os.urandom(500), "model")
    parts = split_large([small, large, model], 400)
    assert list(parts) == [large.path] and len(parts[large.path]) == 2
    assert shipped([small, large, model], parts) == [small, *parts[large.path], model]


def test_a_file_exactly_at_the_limit_is_kept_whole():
    assert split_large([snapshot_of(400)], 400) == {}


def test_the_build_refuses_any_file_over_the_limit_naming_it():
    model = make.from_bytes("model/model.onnx", b"x" * (3 * MIB), "model")
    page = make.from_bytes("index.html", b"<p>", "page", hashed=False)
    check_file_sizes([model, page], {}, {"bundle.json": b"{}"}, 3 * MIB)  # at the limit: fine
    with pytest.raises(BuildError) as refused:
        check_file_sizes([model, page], {}, {"model.html": b"y" * (2 * MIB + 1)}, 2 * MIB)
    message = str(refused.value)
    assert f"{model.path} (3.0 MiB)" in message and "model.html (2.0 MiB)" in message
    assert "index.html" not in message
    assert "build.max_file_mib" in message and "Cloudflare Pages" in message


def test_a_precompressed_copy_over_the_limit_is_refused_too():
    wasm = make.from_bytes("runtime/x.wasm", b"z" * 100, "runtime")
    encoded = {wasm.path: (Encoded("br", b"b" * 50), Encoded("gzip", b"g" * 150))}
    with pytest.raises(BuildError, match=rf"{wasm.path}\.gz \(0\.0 MiB\)"):
        check_file_sizes([wasm], encoded, {}, 120)
