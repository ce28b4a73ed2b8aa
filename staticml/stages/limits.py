"""Stage: every file of a site fits the per-file limit of the strictest host it may go to.

Cloudflare Pages refuses a site with a file over 25 MiB, and the Python snapshot alone (the
whole wasm heap) is about 30 MiB. So a file the worker reads whole into memory and does not
hand to the browser as a URL (the snapshot) is split into parts under `build.max_file_mib`:
each part is a file of the release like any other (listed with its own size and integrity,
precompressed, precached by the service worker), and the worker fetches the parts side by
side, checks each one and joins them (`parts` in the worker configuration). Any other file
over the limit is refused by `check_file_sizes`, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from staticml.errors import BuildError
from staticml.hashing import sha256_hex
from staticml.stages.assets import Asset
from staticml.stages.precompress import ENCODINGS, Encoded

MIB = 1024 * 1024
SPLIT_KINDS = frozenset({"snapshot"})


def split_large(assets: Iterable[Asset], limit: int) -> dict[str, tuple[Asset, ...]]:
    """The parts of every splittable asset over `limit` bytes, by the asset's path."""
    return {a.path: split(a, limit) for a in assets if a.kind in SPLIT_KINDS and a.size > limit}


def split(asset: Asset, limit: int) -> tuple[Asset, ...]:
    """`asset` in as few parts of at most `limit` bytes as it takes, of (nearly) equal size, so
    that they download side by side in about the same time."""
    count = -(-asset.size // limit)
    size = -(-asset.size // count)
    data = asset.read()
    chunks = [data[start : start + size] for start in range(0, asset.size, size)]
    return tuple(
        Asset(
            part_path(asset.path, number, len(chunks)),
            asset.kind,
            sha256_hex(chunk),
            len(chunk),
            asset.immutable,
            data=chunk,
        )
        for number, chunk in enumerate(chunks, 1)
    )


def part_path(path: str, number: int, count: int) -> str:
    """`runtime/python-ab12/python.snapshot` → `runtime/python-ab12/python.part1of2.snapshot`:
    beside the whole file's name, with its suffix (its MIME type and precompression)."""
    pure = PurePosixPath(path)
    return str(pure.with_name(f"{pure.stem}.part{number}of{count}{pure.suffix}"))


def shipped(assets: Iterable[Asset], parts: Mapping[str, tuple[Asset, ...]]) -> list[Asset]:
    """The files a site holds: `assets`, each split one replaced by its parts."""
    return [part for asset in assets for part in parts.get(asset.path, (asset,))]


def check_file_sizes(
    files: Iterable[Asset],
    encoded: Mapping[str, tuple[Encoded, ...]],
    records: Mapping[str, bytes],
    limit: int,
) -> None:
    """Refuse the build if any file it would write, precompressed copies included, is over
    `limit` bytes."""
    sizes = {name: len(data) for name, data in records.items()}
    for asset in files:
        sizes[asset.path] = asset.size
        for variant in encoded.get(asset.path, ()):
            sizes[asset.path + ENCODINGS[variant.encoding]] = len(variant.data)
    over = {name: size for name, size in sizes.items() if size > limit}
    if over:
        listed = ", ".join(f"{name} ({size / MIB:.1f} MiB)" for name, size in sorted(over.items()))
        raise BuildError(
            f"the site would hold files over the {limit / MIB:g} MiB a file may be "
            f"(build.max_file_mib; Cloudflare Pages refuses files over 25 MiB): {listed}. "
            "Make them smaller (a model: ship a smaller variant, see [compress] in "
            "docs/configuration.md), or, for hosts without that limit, raise "
            "build.max_file_mib in staticml.toml."
        )
