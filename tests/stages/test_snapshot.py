"""The Python snapshot: fresh state in every visit (that cold builds make the same snapshot is
test_build.py's test_a_second_cold_build_is_the_same_site)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from staticml.config import load_config
from staticml.stages.dependencies import fetch_dependencies
from staticml.stages.snapshot import RUNTIME_MODULE, snapshot_modules, snapshot_wheels
from staticml.stages.wheels import pack_wheels
from tests.support import ROOT
from tests.support.dependencies import SIX, with_dependencies

# Restores the site's snapshot as its worker does (its parts fetched and joined), then draws
# from what the snapshot froze, renews it as the worker's start() does, and draws again.
RESTORE = """async ({module, indexURL, snapshot, wheels}) => {
    const { loadPyodide } = await import(module);
    const bytes = Promise.all(snapshot.map((url) => fetch(url).then((r) => r.blob())))
        .then((parts) => new Blob(parts).arrayBuffer());
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


def site_runtime(site: Path) -> dict[str, object]:
    [module] = site.glob("runtime/pyodide-*/pyodide.mjs")
    parts = sorted(site.glob("runtime/python-*/python.part*.snapshot"))
    assert parts, f"no snapshot parts in {site}"
    wheels = sorted(site.glob("wheels/*/*.whl"))

    def relative(path: Path) -> str:
        return "/" + path.relative_to(site).as_posix()

    return {
        "module": relative(module),
        "indexURL": relative(module.parent) + "/",
        "snapshot": [relative(part) for part in parts],
        "wheels": [relative(wheel) for wheel in wheels],
    }


def test_the_snapshot_holds_the_runtime_and_the_dependencies_but_not_the_app():
    wine = pack_wheels(load_config(ROOT / "examples" / "wine"))
    demo = pack_wheels(load_config(ROOT / "app"))
    assert snapshot_wheels(wine) == snapshot_wheels(demo) == (wine.runtime,)
    assert snapshot_modules(wine) == (RUNTIME_MODULE,)

    with_six = pack_wheels(with_dependencies(SIX), fetch_dependencies(with_dependencies(SIX)))
    assert [w.filename for w in snapshot_wheels(with_six)] == [
        with_six.runtime.filename,
        "six-1.16.0-py2.py3-none-any.whl",
    ]
    assert snapshot_modules(with_six) == (RUNTIME_MODULE, "six")
    another_app = dataclasses.replace(with_six, app=demo.app)
    assert snapshot_wheels(another_app) == snapshot_wheels(with_six)


@pytest.mark.browser
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
