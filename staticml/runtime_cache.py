"""Where a build gets the pinned browser runtimes, and the cache that makes `pip install` enough.

A build takes each runtime from the first of (docs/cli.md): `--node-modules`, else
`$STATICML_NODE_MODULES` (either must hold it); else `./node_modules` or the node_modules beside
a staticml checkout, when one holds the pinned version; else the runtime cache,
`<cache>/runtimes/<package>-<version>/`. A runtime missing from the cache is downloaded from
the npm registry on first need: the tarball is checked against the sha512 integrity staticml
pins (package-lock.json's) before it is opened, only the files a build ships are unpacked, each
checked against its pinned sha256, and the folder is renamed into place in one step, so a
folder in the cache is complete. Later builds need no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from staticml.download import Download, Unreachable, download
from staticml.errors import AssetError
from staticml.progress import Reporter, SilentReporter
from staticml.runtime_digests import DIGESTS, INTEGRITY
from staticml.runtimes import (
    NODE_MODULES_ENV,
    ONNXRUNTIME_WEB,
    PYODIDE,
    RUNTIMES,
    RuntimeFiles,
    Runtimes,
    RuntimeSpec,
    check_digests,
    installed_version,
    locate,
)

REGISTRY_ENV = "STATICML_NPM_REGISTRY"
# npm's own setting, as npm reads it from the environment (`npm config` is not consulted).
NPM_REGISTRY_ENVS = ("npm_config_registry", "NPM_CONFIG_REGISTRY")
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
RECORD = "staticml-runtime.json"
_CHECKOUT_NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"


@dataclass(frozen=True)
class Pin:
    """What a runtime's tarball and files must be: the tarball's integrity, each file's sha256."""

    integrity: str
    sha256: Mapping[str, str]


@dataclass(frozen=True)
class CachedRuntime:
    package: str
    version: str
    folder: Path
    size: int
    source: str  # the URL it was downloaded from


def pinned(spec: RuntimeSpec) -> Pin:
    key = (spec.package, spec.version)
    if key not in INTEGRITY or key not in DIGESTS:
        raise AssetError(
            f"staticml has no pinned integrity for {spec.package} {spec.version}: run "
            "`python scripts/runtime_digests.py` in the staticml checkout after changing a "
            "pinned version."
        )
    return Pin(INTEGRITY[key], DIGESTS[key])


def registry() -> str:
    """The npm registry to download from: `$STATICML_NPM_REGISTRY`, npm's setting, or npm's."""
    for name in (REGISTRY_ENV, *NPM_REGISTRY_ENVS):
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_REGISTRY


def tarball_url(spec: RuntimeSpec, base: str) -> str:
    """The tarball's address, as npm forms it: `<registry>/<package>/-/<name>-<version>.tgz`."""
    name = spec.package.rsplit("/", 1)[-1]
    return f"{base.rstrip('/')}/{spec.package}/-/{name}-{spec.version}.tgz"


def runtimes_dir(cache_dir: Path) -> Path:
    return cache_dir / "runtimes"


def cache_folder(spec: RuntimeSpec, cache_dir: Path) -> Path:
    return runtimes_dir(cache_dir) / f"{spec.package.replace('/', '+')}-{spec.version}"


def find_runtimes(
    node_modules: Path | None, cache_dir: Path, reporter: Reporter | None = None
) -> Runtimes:
    """Both runtimes, from the first source that has them (downloading into the cache last)."""
    report = reporter or SilentReporter()
    return Runtimes(
        pyodide=find(PYODIDE, node_modules, cache_dir, report),
        ort=find(ONNXRUNTIME_WEB, node_modules, cache_dir, report),
    )


def find(
    spec: RuntimeSpec, node_modules: Path | None, cache_dir: Path, reporter: Reporter
) -> RuntimeFiles:
    folder = node_modules_for(spec, node_modules)
    if folder is not None:
        return locate(spec, folder)
    return cached(spec, fetch_runtime(spec, cache_dir, reporter=reporter))


def node_modules_for(spec: RuntimeSpec, node_modules: Path | None) -> Path | None:
    """The node_modules to take `spec` from, or None for the cache."""
    explicit = node_modules or os.environ.get(NODE_MODULES_ENV)
    if explicit:
        return Path(explicit)
    for candidate in implicit_node_modules():
        if installed_version(spec, candidate) == spec.version:
            return candidate
    return None


def implicit_node_modules() -> tuple[Path, ...]:
    """`./node_modules`, then the one beside a staticml checkout (an editable install's)."""
    return tuple(dict.fromkeys([Path.cwd() / "node_modules", _CHECKOUT_NODE_MODULES]))


def cached(spec: RuntimeSpec, folder: Path) -> RuntimeFiles:
    """The runtime's files in its cache folder, each checked against its pinned sha256."""
    paths = tuple(folder / name for name in spec.files)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise AssetError(
            f"the cached {spec.package} {spec.version} in {folder} lacks {', '.join(missing)}: "
            f"delete {folder}; the next build (or `staticml runtimes fetch`) downloads it again."
        )
    check_digests(spec, paths, fix=f"delete {folder} and run `staticml runtimes fetch`")
    return RuntimeFiles(spec, paths)


def fetch_runtime(
    spec: RuntimeSpec,
    cache_dir: Path,
    *,
    pin: Pin | None = None,
    base: str | None = None,
    reporter: Reporter | None = None,
) -> Path:
    """The runtime's cache folder, downloaded and unpacked first if it is not there."""
    folder = cache_folder(spec, cache_dir)
    if (folder / RECORD).is_file():
        return folder
    pin = pin or pinned(spec)
    url = tarball_url(spec, base or registry())
    label = f"{spec.package} {spec.version}"
    tarball = runtimes_dir(cache_dir) / ".downloads" / f"{folder.name}.tgz"
    try:
        download(Download(url, pin.integrity, label), tarball, reporter or SilentReporter())
    except Unreachable as exc:
        raise AssetError(_offline_message(spec, folder, exc)) from exc
    try:
        _install(spec, tarball, pin, folder, url)
    finally:
        tarball.unlink(missing_ok=True)
    return folder


def _offline_message(spec: RuntimeSpec, folder: Path, exc: Unreachable) -> str:
    host = urllib.parse.urlsplit(exc.url).netloc or exc.url
    return (
        f"{spec.package} {spec.version} is needed but is not in staticml's runtime cache "
        f"({folder}), and downloading it from {host} failed ({exc.url}: {exc.reason}). Either "
        "run `staticml runtimes fetch` on a machine that reaches the npm registry and copy its "
        f"{folder.parent} folder here, or point {NODE_MODULES_ENV} at a node_modules folder "
        f"(a mirror) that holds {spec.package} {spec.version}. {REGISTRY_ENV} names another "
        "registry to download from."
    )


def _install(spec: RuntimeSpec, tarball: Path, pin: Pin, folder: Path, url: str) -> None:
    """Unpack the shipped files into a temporary folder beside `folder`, then rename it."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for name in spec.files:
                (staging / name).write_bytes(_member(archive, spec, name, pin, url))
        record = {"package": spec.package, "version": spec.version, "source": url}
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / RECORD).is_file():  # not another process's complete copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _member(archive: tarfile.TarFile, spec: RuntimeSpec, name: str, pin: Pin, url: str) -> bytes:
    member = "/".join(p for p in ("package", spec.source, name) if p)
    try:
        info = archive.getmember(member)
    except KeyError:
        info = None
    handle = archive.extractfile(info) if info is not None and info.isfile() else None
    if handle is None:
        raise AssetError(f"{url} has no file {member}: it is not the {spec.package} staticml pins.")
    data = handle.read()
    if hashlib.sha256(data).hexdigest() != pin.sha256.get(name):
        raise AssetError(
            f"{member} in {url} is not the file staticml pins for {spec.package} "
            f"{spec.version}: nothing was cached. Regenerate the pins with "
            "`python scripts/runtime_digests.py` if the version changed."
        )
    return data


def cached_runtimes(cache_dir: Path) -> list[CachedRuntime]:
    """Every runtime folder in the cache (pinned or left by another staticml version)."""
    found = []
    root = runtimes_dir(cache_dir)
    for record in sorted(root.glob(f"*/{RECORD}")) if root.is_dir() else ():
        data = json.loads(record.read_text(encoding="utf-8"))
        size = sum(p.stat().st_size for p in record.parent.iterdir() if p.is_file())
        found.append(
            CachedRuntime(data["package"], data["version"], record.parent, size, data["source"])
        )
    return found


def fetch_all(cache_dir: Path, reporter: Reporter | None = None) -> list[CachedRuntime]:
    """Every pinned runtime in the cache, downloaded where missing (`staticml runtimes fetch`)."""
    folders = {fetch_runtime(spec, cache_dir, reporter=reporter) for spec in RUNTIMES}
    return [c for c in cached_runtimes(cache_dir) if c.folder in folders]


@dataclass(frozen=True)
class Source:
    """Where a build would take one pinned runtime from now, without downloading."""

    spec: RuntimeSpec
    kind: str  # "node_modules", "cache", or "missing"
    path: Path


def sources(node_modules: Path | None, cache_dir: Path) -> list[Source]:
    return [_source(spec, node_modules, cache_dir) for spec in RUNTIMES]


def _source(spec: RuntimeSpec, node_modules: Path | None, cache_dir: Path) -> Source:
    found = node_modules_for(spec, node_modules)
    if found is not None:
        return Source(spec, "node_modules", found / spec.package)
    folder = cache_folder(spec, cache_dir)
    return Source(spec, "cache" if (folder / RECORD).is_file() else "missing", folder)
