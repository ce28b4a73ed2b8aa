"""Assets: every file of a built site, with its content hash and the name it is served under."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from staticml.hashing import NAME_HASH_LENGTH, file_sha256, hashed_name, sha256_hex, tree_digest
from staticml.runtimes import RuntimeFiles


@dataclass(frozen=True)
class Asset:
    """One file of the site. Immutable assets have content-addressed paths."""

    path: str
    kind: str
    sha256: str
    size: int
    immutable: bool
    data: bytes | None = None
    source: Path | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None
        return self.source.read_bytes()


def from_bytes(
    path: str, data: bytes, kind: str, *, hashed: bool = True, keep_name: bool = False
) -> Asset:
    digest = sha256_hex(data)
    served = _served_path(path, digest, hashed, keep_name)
    return Asset(served, kind, digest, len(data), hashed, data=data)


def from_file(path: str, source: Path, kind: str, *, hashed: bool = True) -> Asset:
    digest = file_sha256(source)
    size = source.stat().st_size
    return Asset(
        _served_path(path, digest, hashed, False), kind, digest, size, hashed, source=source
    )


def runtime_file(key: str, name: str, data: bytes, kind: str) -> Asset:
    """A file the build makes for the runtime, in a folder named by its hash, like the runtimes."""
    digest = sha256_hex(data)
    path = f"runtime/{key}-{digest[:NAME_HASH_LENGTH]}/{name}"
    return Asset(path, kind, digest, len(data), True, data=data)


def runtime_assets(runtime: RuntimeFiles) -> list[Asset]:
    """A runtime's files, kept under their own names in a folder named by their joint hash.

    The runtimes find their siblings by name (pyodide.mjs loads pyodide.asm.wasm), so the
    folder, not each file, carries the content hash.
    """
    digests = {path.name: file_sha256(path) for path in runtime.files}
    folder = f"runtime/{runtime.spec.key}-{tree_digest(digests.items())[:NAME_HASH_LENGTH]}"
    return [
        Asset(
            f"{folder}/{path.name}",
            "runtime",
            digests[path.name],
            path.stat().st_size,
            True,
            source=path,
        )
        for path in runtime.files
    ]


def _served_path(path: str, digest: str, hashed: bool, keep_name: bool) -> str:
    if not hashed:
        return path
    if keep_name:
        pure = PurePosixPath(path)
        return str(pure.parent / digest[:NAME_HASH_LENGTH] / pure.name)
    return hashed_name(path, digest)
