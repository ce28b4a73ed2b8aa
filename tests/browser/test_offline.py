"""Offline use: the service worker keeps the release, so a repeat visit needs no network."""

from __future__ import annotations

import json

import pytest

from staticml.serve import create_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.scoring import shipped_samples
from tests.support.serving import serve_in_thread

pytestmark = pytest.mark.browser


def first_visit(open_browser, server):
    watched = open_browser(server.url)
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    # Active only once every file of the release is cached (the install waits for it).
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    return watched, page


def test_a_repeat_visit_works_with_the_network_cut_off(open_browser, server, built_site):
    watched, page = first_visit(open_browser, server)
    watched.context.set_offline(True)
    # The network is really gone: bundle.json is not part of the cached release.
    assert page.evaluate("fetch('bundle.json').then(() => 'online', () => 'offline')") == "offline"
    assert watched.errors == [
        "console.error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED"
    ]
    watched.errors.clear()
    page.reload()
    info = page.evaluate("window.staticml.ready")
    assert info["snapshot"] is True
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    sample = shipped_samples(built_site.path)[3]
    page.locator("button.sample").nth(3).click()
    page.locator("#result-note", has_text="CPython reference").wait_for()
    assert page.text_content("#result-label") == sample["expected"]["label"]
    assert page.text_content("#status-stage") == "Ready."
    watched.assert_clean()


def test_the_service_worker_caches_exactly_the_release_with_its_hashes(
    open_browser, server, built_site
):
    _, page = first_visit(open_browser, server)
    cached = page.evaluate(
        """async () => {
            const names = await caches.keys();
            const cache = await caches.open(names[0]);
            return {names, urls: (await cache.keys()).map((request) => new URL(request.url).pathname.slice(1))};
        }"""
    )
    manifest = json.loads((built_site.path / "bundle.json").read_text())
    immutable = {path for path, meta in manifest["assets"].items() if meta["immutable"]}
    assert cached["names"] == [f"staticml:/:{manifest['release']}"]
    assert set(cached["urls"]) == immutable | {"index.html"}


def test_the_page_is_installable(browser, server, tmp_path):
    # Incognito contexts are never installable: this one has a profile on disk.
    context = browser.browser_type.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    foreign: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(server.url) else foreign.append(r.url))
    try:
        page = context.new_page()
        page.goto(server.url)
        page.evaluate("window.staticml.ready")
        manifest = page.evaluate(
            "fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())"
        )
        assert (manifest["name"], manifest["display"]) == (
            "Handwritten digit recogniser",
            "standalone",
        )
        errors = context.new_cdp_session(page).send("Page.getInstallabilityErrors")
        assert errors["installabilityErrors"] == []
        assert foreign == []
    finally:
        context.close()


def test_a_damaged_snapshot_falls_back_to_a_normal_start(site_copy, open_browser, built_site):
    # The last of its parts (the snapshot is split under the hosts' per-file limit).
    snapshot = sorted((site_copy / "runtime").glob("python-*/python*.snapshot"))[-1]
    damaged = bytearray(snapshot.read_bytes())
    damaged[1000] ^= 0xFF
    snapshot.write_bytes(damaged)
    for variant in snapshot.parent.glob(snapshot.name + ".*"):
        variant.unlink()  # else the intact brotli/gzip copy would be served
    with serve_in_thread(create_app(site_copy)) as server:
        watched = open_browser(server.url)
        page = watched.new_page()
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(server.url)
        info = page.evaluate("window.staticml.ready")
        assert info["snapshot"] is False
        assert info["snapshotError"].startswith(f"Could not download {snapshot.name}: ")
        assert "does not match the hash in the build's manifest" in info["snapshotError"]
        assert any("snapshot could not be used" in w for w in warnings), warnings
        shown = page.text_content("#status-bytes")
        assert f"without the Python snapshot ({info['snapshotError']})" in shown, shown
        sample = shipped_samples(built_site.path)[0]
        result = page.evaluate("(r) => window.staticml.predict(r)", sample["record"])
        assert result["label"] == sample["expected"]["label"]
        # The browser reports the failed integrity check; nothing else may fail.
        watched.errors = [e for e in watched.errors if "integrity" not in e]
        watched.assert_clean()
