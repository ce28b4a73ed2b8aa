"""Content hashes and content-addressed names: the one place assets get their identity."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

NAME_HASH_LENGTH = 12


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_FileKey = tuple[str, int, int, int, int, int]
_file_digests: dict[_FileKey, str] = {}
_file_digests_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, hashed once per process while the file stays as it was.

    A build hashes each runtime file (tens of MB) several times, and a watching process does it
    on every rebuild. The digest is kept under the file's identity and its size, mtime and
    ctime: rewriting the file, or setting its mtime back, changes its ctime, so it is read again.
    """
    stat = path.stat()
    key = (
        str(path.resolve()),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )
    with _file_digests_lock:
        known = _file_digests.get(key)
    if known is not None:
        return known
    digest = sha256_hex(path.read_bytes())
    with _file_digests_lock:
        _file_digests[key] = digest
    return digest


def integrity(digest_hex: str) -> str:
    """The Subresource Integrity string (`sha256-<base64>`) of a hex sha256 digest."""
    return "sha256-" + base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


def hashed_name(path: str, digest_hex: str) -> str:
    """`static/app.js` → `static/app.<hash>.js`; the hash goes before the last suffix."""
    pure = PurePosixPath(path)
    short = digest_hex[:NAME_HASH_LENGTH]
    suffix = pure.suffix
    stem = pure.name[: -len(suffix)] if suffix else pure.name
    return str(pure.with_name(f"{stem}.{short}{suffix}"))


def tree_digest(entries: Iterable[tuple[str, str]]) -> str:
    """One digest for a folder of (name, sha256) pairs, independent of their order."""
    lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(entries))
    return sha256_hex(lines.encode("utf-8"))
