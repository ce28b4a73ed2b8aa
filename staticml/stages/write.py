"""Final stage: the only one that writes. The new site replaces the old one in one rename.

A file the previous build holds with the same bytes is hard-linked into the new one rather than
written again; the link is made before the rename, so the old site is whole until then."""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from staticml.errors import BuildError
from staticml.runtime.contract import MANIFEST
from staticml.stages.assets import Asset
from staticml.stages.precompress import ENCODINGS, Encoded


def write_site(
    out_dir: Path,
    assets: Iterable[Asset],
    encoded: Mapping[str, tuple[Encoded, ...]],
    manifest: bytes,
    records: Mapping[str, bytes] | None = None,
) -> None:
    """Write the site; `records` are files of this build outside the release (the report)."""
    out_dir = out_dir.resolve()
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for asset in assets:
            target = staging / asset.path
            target.parent.mkdir(parents=True, exist_ok=True)
            previous = out_dir / asset.path
            if asset.data is None and asset.source is not None:
                _copy(asset.source, target, previous)
            else:
                _put(asset.read(), target, previous)
            for variant in encoded.get(asset.path, ()):
                suffix = ENCODINGS[variant.encoding]
                _put(
                    variant.data,
                    target.with_name(target.name + suffix),
                    previous.with_name(previous.name + suffix),
                )
        for name, data in (records or {}).items():
            (staging / name).write_bytes(data)
        (staging / MANIFEST).write_bytes(manifest)
        staging.chmod(0o755)
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _put(data: bytes, target: Path, previous: Path) -> None:
    """`data` at `target`. A file of the previous build that holds the same bytes is linked
    instead: a rebuild would otherwise write tens of MB of unchanged runtime files again."""
    if not (_holds(previous, data) and _linked(previous, target)):
        target.write_bytes(data)


def _copy(source: Path, target: Path, previous: Path) -> None:
    same = previous.is_file() and filecmp.cmp(previous, source, shallow=False)
    if not (same and _linked(previous, target)):
        shutil.copyfile(source, target)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _linked(previous: Path, target: Path) -> bool:
    try:
        os.link(previous, target)
    except OSError:  # a file system without hard links, or the previous build just went away
        return False
    return True


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"Output {out_dir} exists and is not a folder; choose another -o/--out.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise BuildError(
            f"Output folder {out_dir} is not empty and is not a staticml build (it has no {MANIFEST}); "
            "staticml replaces its output folder, so choose an empty or new folder with -o/--out."
        )


def _swap(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
