"""Reproducible pure-Python wheels: staticml's browser runtime and the files of any package.

Wheels are written byte-for-byte reproducibly (sorted entries, fixed timestamps and
permissions), so the same sources always give the same hash and the same bundle. The build
packs them; batch scoring checks a bundle's runtime wheel against this staticml's own.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from staticml.version import PACKAGE, __version__

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
RUNTIME_DIST = "staticml_runtime"
_RUNTIME_INIT = f'"""staticml browser runtime."""\n\n__version__ = "{__version__}"\n'


@dataclass(frozen=True)
class Wheel:
    filename: str
    data: bytes
    top_level: tuple[str, ...]
    sources: tuple[Path, ...]


def runtime_wheel() -> Wheel:
    runtime_dir = PACKAGE / "runtime"
    sources = package_sources(runtime_dir)
    files = {
        f"staticml/runtime/{p.relative_to(runtime_dir).as_posix()}": p.read_bytes() for p in sources
    }
    files["staticml/__init__.py"] = _RUNTIME_INIT.encode("utf-8")
    version = __version__
    return Wheel(
        filename=f"{RUNTIME_DIST}-{version}-py3-none-any.whl",
        data=make_wheel(RUNTIME_DIST, version, files),
        top_level=("staticml",),
        sources=tuple(sources),
    )


def package_sources(package_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in package_dir.rglob("*")
        if p.is_file()
        and not _SKIP_DIRS.intersection(p.relative_to(package_dir).parts)
        and p.suffix not in _SKIP_SUFFIXES
    )


def make_wheel(name: str, version: str, files: dict[str, bytes]) -> bytes:
    """A valid, reproducible `py3-none-any` wheel holding `files` (archive path → bytes)."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    wheel = (
        "Wheel-Version: 1.0\nGenerator: staticml "
        f"{__version__}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()
    entries = dict(sorted(files.items()))
    entries[f"{dist_info}/METADATA"] = metadata
    entries[f"{dist_info}/WHEEL"] = wheel
    entries[f"{dist_info}/top_level.txt"] = "".join(
        sorted({path.split("/")[0].removesuffix(".py") + "\n" for path in files})
    ).encode()
    record = "".join(
        f"{path},sha256={_record_hash(data)},{len(data)}\n" for path, data in entries.items()
    )
    entries[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
