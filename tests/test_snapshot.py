"""The Python snapshot: the same bytes from every cold build, fresh state in every visit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import APP_DIR, ROOT

pytestmark = pytest.mark.browser

# Made in a fresh interpreter, as a build makes it, with only the cache it is given.
MAKE = """
import sys
from pathlib import Path

from staticml.config import load_config
from staticml.runtimes import RUNTIMES, default_node_modules, locate
from staticml.stages.dependencies import fetch_dependencies
from staticml.stages.precompress import default_cache_dir
from staticml.stages.snapshot import make_snapshot
from staticml.stages.wheels import pack_wheels

config = load_config(Path(sys.argv[1]))
pyodide = locate(RUNTIMES[0], default_node_modules())
wheels = pack_wheels(config, fetch_dependencies(config))
Path(sys.argv[2]).write_bytes(make_snapshot(config, wheels, pyodide, default_cache_dir()))
"""

# Restores the site's snapshot as its worker does, then draws from what the snapshot froze,
# renews it as the worker's start() does, and draws again.
RESTORE = """async ({module, indexURL, snapshot, wheels}) => {
    const { loadPyodide } = await import(module);
    const bytes = fetch(snapshot).then((response) => response.arrayBuffer());
    const pyodide = await loadPyodide({ indexURL, packages: [], _loadSnapshot: bytes });
    for (const url of wheels) {
        const response = await fetch(url);
        pyodide.unpackArchive(new Uint8Array(await response.arrayBuffer()), "wheel");
    }
    return pyodide.runPython(`
import random, tempfile
from staticml.runtime.restored import renew
def draw():
    return [random.random(), next(tempfile._get_candidate_names())]
frozen = draw()
renew()
[frozen, draw()]
`).toJs();
}"""


def made_cold(cache: Path, out: Path) -> bytes:
    env = {**os.environ, "STATICML_CACHE_DIR": str(cache)}
    subprocess.run(
        [sys.executable, "-c", MAKE, str(APP_DIR), str(out)], cwd=ROOT, env=env, check=True
    )
    assert len(list((cache / "snapshots").glob("*.snapshot"))) == 1
    return out.read_bytes()


def differing_offsets(a: bytes, b: bytes, limit: int = 8) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y][:limit]


def test_two_cold_builds_make_the_same_snapshot(tmp_path):
    caches = [tmp_path / "cache-a", tmp_path / "cache-b"]
    first, second = (made_cold(cache, tmp_path / f"{cache.name}.snapshot") for cache in caches)
    assert len(first) == len(second)
    assert first == second, f"first differing offsets: {differing_offsets(first, second)}"


def site_runtime(site: Path) -> dict[str, object]:
    [module] = site.glob("runtime/pyodide-*/pyodide.mjs")
    [snapshot] = site.glob("runtime/python-*/python.snapshot")
    wheels = sorted(site.glob("wheels/*/*.whl"))

    def relative(path: Path) -> str:
        return "/" + path.relative_to(site).as_posix()

    return {
        "module": relative(module),
        "indexURL": relative(module.parent) + "/",
        "snapshot": relative(snapshot),
        "wheels": [relative(wheel) for wheel in wheels],
    }


def test_every_visit_renews_the_randomness_the_snapshot_froze(open_browser, server, built_site):
    runtime = site_runtime(built_site.path)
    visits = []
    for _ in range(2):
        watched = open_browser(server.url)
        page = watched.new_page()
        page.goto(server.url + "model.html")  # a page of the site that starts no worker
        visits.append(page.evaluate(RESTORE, runtime))
    (frozen_a, renewed_a), (frozen_b, renewed_b) = visits
    assert frozen_a == frozen_b  # what the build pinned: the same in every visit
    assert renewed_a[0] != renewed_b[0] and renewed_a[1] != renewed_b[1]
    assert renewed_a[0] != frozen_a[0]
