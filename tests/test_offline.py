"""Offline use: the service worker keeps the release, so a repeat visit needs no network."""

from __future__ import annotations

import json

import pytest

from tests.test_browser import shipped_samples

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
    assert page.evaluate("fetch('bundle.json').then(() => 'online', () => 'offline')") == "offline"
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


def test_the_page_is_installable(open_browser, server, built_site):
    watched = open_browser(server.url)
    page = watched.new_page()
    page.goto(server.url)
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = page.evaluate("(url) => fetch(url).then((r) => r.json())", href)
    assert manifest["name"] == "Handwritten digit recogniser"
    assert manifest["display"] == "standalone"
    icon = page.evaluate(
        "([base, src]) => fetch(new URL(src, new URL(base, location.href))).then((r) => r.headers.get('content-type'))",
        [href, manifest["icons"][0]["src"]],
    )
    assert icon == "image/svg+xml"
    cdp = watched.context.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    watched.assert_clean()
