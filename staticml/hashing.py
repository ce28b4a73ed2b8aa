"""Content hashes and content-addressed names: the one place assets get their identity."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath

NAME_HASH_LENGTH = 12


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
