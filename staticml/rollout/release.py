"""Copying a build into a site as an immutable release.

`SITE/releases/<id>/` gets every file of the build except its runtimes, which go once into
`SITE/runtime/<name>-<hash>/` (their folder names are content hashes, so two builds with
the same Pyodide share the same URLs and a browser downloads them once). The release's
page and its service worker's precache list are pointed at that shared folder
(`../../runtime/...`), and its page configuration is
also written alone as `config.json`, which a page running this release as a shadow reads.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from staticml.errors import RolloutError
from staticml.hashing import integrity, sha256_hex
from staticml.rollout.plan import check_release_id
from staticml.runtime.contract import MANIFEST, SERVICE_WORKER

RELEASES = "releases"
RUNTIME = "runtime"
PAGE_CONFIG = "config.json"
SHARED_PREFIX = "../../"
_CONFIG_SCRIPT = re.compile(
    r'(<script type="application/json" id="staticml-config">)(.*?)(</script>)', re.S
)
_PRECACHE = re.compile(r"const PRECACHE = (\{.*?\n\});", re.S)
# What Jinja's `tojson` escapes, so the JSON can never close the <script> element.
_HTML_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}


def read_bundle(build_dir: Path) -> dict[str, Any]:
    path = build_dir / MANIFEST
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        check_release_id(bundle["release"])
        bundle["assets"].items()
        return dict(bundle)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RolloutError(
            f"{build_dir} is not a staticml build ({path.name}: {exc}); give the folder "
            "`staticml build` wrote."
        ) from exc


def page_config_integrity(release_dir: Path) -> str:
    """The `sha256-...` integrity of a release's `config.json`, which the plan pins it by."""
    path = release_dir / PAGE_CONFIG
    try:
        return integrity(sha256_hex(path.read_bytes()))
    except OSError as exc:
        raise RolloutError(
            f"{path} cannot be read ({exc}): this release was not copied by this version of "
            "staticml; add its build to a new site."
        ) from exc


def runtime_folders(bundle: dict[str, Any]) -> set[str]:
    """`runtime/<name>-<hash>` folders a build's assets live in."""
    return {
        "/".join(path.split("/")[:2]) for path in bundle["assets"] if path.startswith(RUNTIME + "/")
    }


def copy_release(build_dir: Path, site: Path) -> str:
    """Copy `build_dir` into `site`; the release id. Copying a release twice changes nothing."""
    bundle = read_bundle(build_dir)
    release = str(bundle["release"])
    for folder in sorted(runtime_folders(bundle)):
        _copy_once(build_dir / folder, site / folder)
    target = site / RELEASES / release
    if target.is_dir():
        return release
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{release}.", dir=target.parent))
    try:
        shutil.copytree(build_dir, staging, dirs_exist_ok=True, ignore=_skip_runtime(build_dir))
        _point_page_at_shared_runtime(staging, bundle)
        staging.chmod(0o755)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return release


def _skip_runtime(build_dir: Path) -> Any:
    top = build_dir.resolve()

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [RUNTIME] if Path(folder).resolve() == top and RUNTIME in names else []

    return ignore


def _copy_once(source: Path, target: Path) -> None:
    """Copy a content-addressed folder unless the site has it already."""
    if target.is_dir():
        return
    if not source.is_dir():
        raise RolloutError(f"{source} is missing: the build is incomplete; rebuild it.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        staging.chmod(0o755)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _point_page_at_shared_runtime(release_dir: Path, bundle: dict[str, Any]) -> None:
    entry = release_dir / str(bundle.get("entry", "index.html"))
    html = entry.read_text(encoding="utf-8")
    found = _CONFIG_SCRIPT.findall(html)
    if len(found) != 1:
        raise RolloutError(
            f"{entry} has {len(found)} page configurations "
            '(<script type="application/json" id="staticml-config">), expected one: '
            "a custom page template must keep staticml's configuration element."
        )
    config = shared_runtime(json.loads(found[0][1]))
    text = json.dumps(config, sort_keys=True)
    for character, escaped in _HTML_SAFE.items():
        text = text.replace(character, escaped)
    data = _CONFIG_SCRIPT.sub(lambda m: m.group(1) + text + m.group(3), html).encode("utf-8")
    _replace(release_dir, bundle, entry.name, data)
    (release_dir / PAGE_CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    _point_service_worker_at_shared_runtime(release_dir, bundle, entry.name, data)
    (release_dir / MANIFEST).write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")


def _point_service_worker_at_shared_runtime(
    release_dir: Path, bundle: dict[str, Any], page: str, page_data: bytes
) -> None:
    """The service worker precaches the shared runtime URLs and the rewritten page."""
    worker = release_dir / SERVICE_WORKER
    if not worker.is_file():
        return
    text = worker.read_text(encoding="utf-8")
    found = _PRECACHE.match(text)
    if found is None:
        raise RolloutError(
            f"{worker} does not start with its precache list (const PRECACHE = ...;): "
            "rebuild the release with this version of staticml."
        )
    precache = json.loads(found.group(1))
    files = {shared_runtime(path): value for path, value in precache["files"].items()}
    if page in files:
        files[page] = integrity(sha256_hex(page_data))
    precache["files"] = files
    rewritten = f"const PRECACHE = {json.dumps(precache, indent=1)};" + text[found.end(1) + 1 :]
    _replace(release_dir, bundle, SERVICE_WORKER, rewritten.encode("utf-8"))


def _replace(release_dir: Path, bundle: dict[str, Any], name: str, data: bytes) -> None:
    """Write `data` as the release's `name` and list it in `bundle` with its new hash."""
    path = release_dir / name
    path.write_bytes(data)
    for suffix in (".br", ".gz"):  # precompressed copies of the old file would be served
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    listed = bundle["assets"].get(name)
    if listed is not None:
        listed.update(size=len(data), sha256=sha256_hex(data), encodings={})


def shared_runtime(value: Any) -> Any:
    """The page configuration with every `runtime/...` URL (keys too) moved to `../../runtime/`."""
    if isinstance(value, str):
        return SHARED_PREFIX + value if value.startswith(RUNTIME + "/") else value
    if isinstance(value, list):
        return [shared_runtime(item) for item in value]
    if isinstance(value, dict):
        return {shared_runtime(key): shared_runtime(item) for key, item in value.items()}
    return value
