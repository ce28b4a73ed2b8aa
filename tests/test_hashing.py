"""A file's digest is computed once per process while the file stays as it was."""

from __future__ import annotations

import hashlib
import os

from staticml import hashing
from staticml.hashing import file_sha256


def test_a_file_is_hashed_once_until_it_is_rewritten(tmp_path, monkeypatch):
    path = tmp_path / "runtime.wasm"
    path.write_bytes(b"first")
    hashed: list[bytes] = []
    monkeypatch.setattr(hashing, "_file_digests", {})
    counted = hashing.sha256_hex

    def counting(data: bytes) -> str:
        hashed.append(data)
        return counted(data)

    monkeypatch.setattr(hashing, "sha256_hex", counting)
    assert file_sha256(path) == hashlib.sha256(b"first").hexdigest()
    assert file_sha256(path) == hashlib.sha256(b"first").hexdigest()
    assert hashed == [b"first"]

    before = path.stat()
    path.write_bytes(b"other")  # same size, and the mtime put back: the ctime still moves
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert file_sha256(path) == hashlib.sha256(b"other").hexdigest()
    assert hashed == [b"first", b"other"]
