"""A site with a shadow release keeps the Python snapshot: both workers start from their own
release's snapshot on a first and a repeat visit, and when one cannot, the console and the
runtime info say why (issue 22). A real `staticml serve` of a real site of two wine releases.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import pytest

from staticml.rollout import Site
from staticml.serve import create_app
from tests.support.browser import watch
from tests.support.serving import serve_in_thread, serve_subprocess

pytestmark = pytest.mark.browser

# Boots release `base`'s worker with its configuration as a page built before the boot
# configuration gave its base sent it: the runtime part of config.json, its URLs unresolved;
# `snapshot`, when given, replaces the snapshot's URL.
UNRESOLVED_BOOT = """async ([base, snapshot]) => {
  const page = await (await fetch(base + "config.json")).json();
  if (snapshot) page.runtime.pyodide.snapshot = snapshot;
  const worker = new Worker(new URL(page.worker, base).href, {type: "module", name: "staticml-shadow"});
  const ready = new Promise((resolve, reject) => {
    worker.onmessage = ({data}) => {
      if (data.type === "ready") resolve(data.info);
      else if (data.type === "error") reject(new Error(data.error.message));
    };
    worker.onerror = (event) => reject(new Error(event.message));
  });
  const runtime = page.runtime;
  worker.postMessage({type: "boot", config: {...runtime, python: {...runtime.python, monitor: null}, monitorState: null}});
  try {
    return await ready;
  } finally {
    worker.terminate();
  }
}"""


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory, wine_releases):
    """Release A serving everyone, release B its shadow, on `staticml serve`."""
    site = Site(tmp_path_factory.mktemp("shadow") / "site")
    a, b = site.add(wine_releases.a), site.add(wine_releases.b)
    site.shadow(b)
    with serve_subprocess(site.root, ready="manifest.json") as server:
        yield site, server, a, b


def snapshot_url(site: Site, origin: str, release: str) -> str:
    """The snapshot a release's own page configuration names, as the browser resolves it."""
    config = json.loads((site.root / "releases" / release / "config.json").read_text())
    return urljoin(f"{origin}releases/{release}/", config["runtime"]["pyodide"]["snapshot"])


def snapshot_part_urls(site: Site, origin: str, release: str) -> list[str]:
    """The files the snapshot is fetched as: its parts when it was split, else itself."""
    config = json.loads((site.root / "releases" / release / "config.json").read_text())
    snapshot = config["runtime"]["pyodide"]["snapshot"]
    parts = config["runtime"].get("parts", {}).get(snapshot, [snapshot])
    return [urljoin(f"{origin}releases/{release}/", part) for part in parts]


NOT_FOUND = "Failed to load resource: the server responded with a status of 404"


def started(info: dict) -> tuple:
    return info["snapshot"], info["snapshotUrl"], info["snapshotError"]


@contextmanager
def primary_page(browser, url: str, release: str, expected_errors: str | None = None):
    """A visit to the site at `url`, routed to `release`: (watched, page, console warnings)."""
    watched = watch(browser, url)
    if expected_errors:
        watched.expect_errors(expected_errors)
    page = watched.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    try:
        page.goto(url)
        page.wait_for_url(f"**/releases/{release}/")
        yield watched, page, warnings
        watched.assert_clean()
    finally:
        watched.context.close()


def test_both_workers_start_from_their_snapshots_on_a_first_and_a_repeat_visit(browser, shadowed):
    site, server, a, b = shadowed
    with primary_page(browser, server.url, a) as (_, page, warnings):
        for visit in ("first", "repeat"):
            primary = page.evaluate("window.staticml.ready")
            shadow = page.evaluate("window.staticml.shadow")
            assert started(primary) == (True, snapshot_url(site, server.url, a), None), visit
            assert started(shadow) == (True, snapshot_url(site, server.url, b), None), visit
            if visit == "first":
                page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                page.reload()  # the repeat visit: its release's service worker answers
                assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert [w for w in warnings if "snapshot" in w] == []


def test_a_worker_given_its_configuration_unresolved_still_finds_its_snapshot(browser, shadowed):
    # What a release page built before the fix sends a shadow: its snapshot's URL resolved
    # against the worker's script was releases/runtime/..., a 404 page Pyodide was handed.
    site, server, a, b = shadowed
    with primary_page(browser, server.url, a) as (watched, page, warnings):
        page.evaluate("window.staticml.ready")
        info = page.evaluate(UNRESOLVED_BOOT, [f"{server.url}releases/{b}/", None])
        assert started(info) == (True, snapshot_url(site, server.url, b), None)
        assert not any("/releases/runtime/" in url for url in watched.requests)
        assert [w for w in warnings if "snapshot" in w] == []


def test_a_shadow_that_cannot_use_its_snapshot_says_why(browser, shadowed, tmp_path):
    site, _, a, b = shadowed
    copy = tmp_path / "site"
    shutil.copytree(site.root, copy)
    snapshot = urlsplit(snapshot_url(Site(copy), "http://host/", b)).path
    # Its first part (the snapshot is split under the hosts' per-file limit), or itself.
    first = urlsplit(snapshot_part_urls(Site(copy), "http://host/", b)[0]).path
    for file in copy.glob(first.lstrip("/") + "*"):
        file.unlink()  # a host that lost it: every page that uses it gets a 404
    with (
        serve_in_thread(create_app(copy), ready="manifest.json") as server,
        primary_page(browser, server.url, a, NOT_FOUND) as (_, page, warnings),
    ):
        page.evaluate("window.staticml.ready")
        shadow = page.evaluate("window.staticml.shadow")
        name = first.rsplit("/", 1)[1]
        why = f"Could not download {name}: the server answered 404 Not Found"
        assert started(shadow) == (False, None, why)
        assert (
            f"staticml: the shadow release's Python snapshot {snapshot} could not be used "
            f"({why}); starting Python normally."
        ) in warnings


def test_a_file_that_is_not_a_snapshot_is_named_with_what_it_holds(browser, shadowed):
    # A configuration naming another of the release's files as its snapshot: the file arrives
    # whole and matches its hash, and Pyodide alone would say "invalid magic number".
    site, server, a, b = shadowed
    config = json.loads((site.root / "releases" / b / "config.json").read_text())
    model = config["runtime"]["model"]["url"]
    size = config["runtime"]["assets"][model]["size"]
    with primary_page(browser, server.url, a) as (_, page, warnings):
        page.evaluate("window.staticml.ready")
        info = page.evaluate(UNRESOLVED_BOOT, [f"{server.url}releases/{b}/", model])
        name = model.rsplit("/", 1)[1]
        start = (site.root / "releases" / b / model).read_bytes()[:16]
        shown = "".join(chr(c) if 0x20 <= c <= 0x7E else "?" for c in start)
        why = (
            f'{name} is not a Pyodide memory snapshot (its {size} bytes start with "{shown}"); '
            "rebuild the release"
        )
        assert started(info) == (False, None, why)
        assert any(why in w and "the shadow release's Python snapshot" in w for w in warnings)
