"""Stage: precompressed gzip and brotli variants, cached by content hash.

Brotli at quality 11 takes ~40 s for each 10-15 MB runtime wasm, so results are cached in
`$STATICML_CACHE_DIR` (default `~/.cache/staticml`) under the input's sha256: the runtimes are
compressed once per machine, not once per build.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

import brotli

from staticml.hashing import sha256_hex
from staticml.stages.assets import Asset

COMPRESSIBLE = {
    ".js",
    ".mjs",
    ".css",
    ".html",
    ".json",
    ".wasm",
    ".onnx",
    ".svg",
    ".txt",
    ".zip",
    ".snapshot",
    ".webmanifest",
}
MIN_SIZE = 256
MIN_SAVING = 0.05
ENCODINGS = {"br": ".br", "gzip": ".gz"}


@dataclass(frozen=True)
class Encoded:
    encoding: str
    data: bytes


def precompress(
    assets: Sequence[Asset],
    quality: int,
    cache_dir: Path,
    on_done: Callable[[Asset], None] = lambda asset: None,
) -> dict[str, tuple[Encoded, ...]]:
    """Served path → the encodings worth serving (each at least 5% smaller than the original).

    `on_done` gets every asset once: an incompressible one at once, the others when encoded.
    """
    candidates = [a for a in assets if _compressible(a)]
    for asset in assets:
        if not _compressible(asset):
            on_done(asset)
    # Biggest first, so the slow brotli runs overlap instead of finishing last.
    candidates.sort(key=lambda a: -a.size)

    def work(asset: Asset) -> tuple[str, tuple[Encoded, ...]]:
        result = _encodings(asset, quality, cache_dir)
        on_done(asset)
        return asset.path, result

    with ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 1)) as pool:
        return dict(pool.map(work, candidates))


def precompress_ahead(assets: Sequence[Asset], quality: int, cache_dir: Path) -> Future[None]:
    """Starts precompressing `assets` into the cache, one at a time, biggest first. The build
    starts this with the runtimes and the Python snapshot, which do not depend on the model, so
    that brotli (40 s for a 30 MB snapshot) runs on a second core while the model is trained
    and measured. `precompress` later finds the results in the cache, or waits for the one in
    progress (`_once`) while its other threads take the rest. The thread is a daemon: a build
    that fails meanwhile exits without waiting, and an entry is only ever stored whole.
    """
    done: Future[None] = Future()

    def run() -> None:
        try:
            for asset in sorted(filter(_compressible, assets), key=lambda a: -a.size):
                _encodings(asset, quality, cache_dir)
            done.set_result(None)
        except BaseException as exc:  # raised again to `precompress` if it waits for this entry
            done.set_exception(exc)

    threading.Thread(target=run, name="staticml-precompress-ahead", daemon=True).start()
    return done


def _compressible(asset: Asset) -> bool:
    return asset.size >= MIN_SIZE and PurePosixPath(asset.path).suffix in COMPRESSIBLE


def _encodings(asset: Asset, quality: int, cache_dir: Path) -> tuple[Encoded, ...]:
    kept = []
    for encoding, compress in (
        ("br", lambda d: brotli.compress(d, quality=quality)),
        ("gzip", lambda d: gzip.compress(d, compresslevel=9, mtime=0)),
    ):
        key = f"{asset.sha256}.{encoding}{quality if encoding == 'br' else ''}"
        cached = cache_dir / key[:2] / key
        packed = cached.read_bytes() if cached.is_file() else b""
        if not packed or not _checked(cached, encoding, packed, asset.sha256):
            packed = _once(cached, partial(_make, cached, compress, asset))
        if len(packed) <= asset.size * (1 - MIN_SAVING):
            kept.append(Encoded(encoding, packed))
    return tuple(kept)


def _make(cached: Path, compress: Callable[[bytes], bytes], asset: Asset) -> bytes:
    return _store(cached, compress(asset.read()))


_running: dict[Path, Future[bytes]] = {}
_running_lock = threading.Lock()


def _once(entry: Path, make: Callable[[], bytes]) -> bytes:
    """`make()`, unless another thread is making this cache entry: then its result."""
    with _running_lock:
        running = _running.get(entry)
        if running is None:
            running = _running[entry] = Future()
            mine = True
        else:
            mine = False
    if not mine:
        return running.result()
    try:
        packed = make()
    except BaseException as exc:
        running.set_exception(exc)
        raise
    else:
        running.set_result(packed)
        return packed
    finally:
        with _running_lock:
            del _running[entry]


_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()


def _checked(cached: Path, encoding: str, packed: bytes, digest: str) -> bool:
    """`_decodes_to`, once per process for an entry whose file has not changed since (its
    size and mtime): a process that builds again (`staticml serve --watch`) would otherwise
    decompress the snapshot and the runtimes on every build."""
    try:
        stat = cached.stat()
    except OSError:
        return False
    stamp = (str(cached), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if stamp in _verified and stat.st_size == len(packed):
            return True
    if not _decodes_to(encoding, packed, digest):
        return False
    with _verified_lock:
        _verified.add(stamp)
    return True


def _decodes_to(encoding: str, packed: bytes, digest: str) -> bool:
    """A cached variant is used only if it still decompresses to the asset's exact bytes."""
    try:
        data = brotli.decompress(packed) if encoding == "br" else gzip.decompress(packed)
    except (brotli.error, OSError, EOFError):
        return False
    return sha256_hex(data) == digest


def _store(path: Path, data: bytes) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)
    return data
