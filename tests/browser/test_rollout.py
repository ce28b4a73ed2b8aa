"""Rollout in Chromium: the shipped router on a real `staticml serve` of a real site.

The canary test has many visitors (each its own anonymous id in localStorage) and stops each
at the router's decision: the release page it navigates to is answered by a stub, so no visit
boots Pyodide. The release tests boot the real pages (a few times only).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from urllib.parse import urlsplit

import pytest

from staticml.headers import SECURITY_HEADERS
from staticml.rollout import Site
from tests.support import get_json
from tests.support.beacon import beacon
from tests.support.browser import watch
from tests.support.rollout import sample_records
from tests.support.serving import serve_subprocess

pytestmark = pytest.mark.browser

VISITORS = 100
ID_KEY = "staticml-rollout:id"  # static/storage.js
TAIL = 1e-3  # chance that a correct router fails one share check
RELEASE_URL = re.compile(r"/releases/([A-Za-z0-9_-]+)/$")


def binomial_bounds(n: int, p: float, tail: float) -> tuple[int, int]:
    """[lo, hi] holding Binomial(n, p) with probability at least 1 - tail (tail/2 each side).

    E.g. n = 100, p = 0.3: mean 30, sd sqrt(100 * 0.3 * 0.7) = 4.6; with tail = 1e-3 the
    bounds are about 3.3 sd either side, 16 to 46 of 100. Wide, because each visitor costs a
    real page load; the exact check beside it (every visitor's choice equals the documented
    hash of its id) is what pins the router down, this one that the shares come out right."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo = 0
    while sum(pmf[: lo + 1]) <= tail / 2:
        lo += 1
    hi = n
    while sum(pmf[hi:]) <= tail / 2:
        hi -= 1
    return lo, hi


def bucket(anonymous_id: str, salt: str) -> float:
    """docs/rollout.md's bucket, computed independently of static/router.js."""
    digest = hashlib.sha256(f"{salt}:{anonymous_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def expected_release(plan, point: float) -> str:
    end = 0.0
    for route in plan.routes:
        end += route.share
        if point < end:
            return route.release
    return plan.routes[-1].release


@pytest.fixture(scope="module")
def served_site(tmp_path_factory, wine_releases):
    site = Site(tmp_path_factory.mktemp("rollout") / "site")
    a, b = site.add(wine_releases.a), site.add(wine_releases.b)
    with serve_subprocess(site.root, ready="manifest.json") as server:
        yield site, server, a, b


class Visitors:
    """Visitors of the site's root in one browser context, each with its own anonymous id: a
    new visitor's storage starts empty, a returning one's holds the id it was given. A visit
    stops at the router's decision: the release page it navigates to is answered by a stub,
    with the site's headers (cross-origin isolated like the real page, so Chromium keeps the
    visits in one process instead of swapping it twice a visit).

    One context and one page: a context each would cost Chromium a renderer process a visit,
    and the router reads nothing but the id in localStorage and manifest.json (revalidated on
    every load)."""

    def __init__(self, browser, origin: str) -> None:
        self.watched = watch(browser, origin)
        self.watched.context.route(
            "**/releases/**",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body="<p>stub</p>", headers=SECURITY_HEADERS
            ),
        )
        self.page = self.watched.new_page()
        self.origin = origin
        self.bodies: list[str] = []
        self.page.on("request", lambda r: self.bodies.append(r.post_data or ""))
        self.page.goto(f"{origin}releases/none/")  # the origin's storage, before any visit

    def visit(self, anonymous_id: str | None) -> tuple[str, str]:
        """(the release the router chose, the id it used) for a visitor with `anonymous_id`
        (None: a new visitor)."""
        self.page.evaluate(STORED_ID, [ID_KEY, anonymous_id])
        self.page.goto(self.origin, wait_until="commit")
        self.page.wait_for_url(RELEASE_URL)
        chosen = RELEASE_URL.search(urlsplit(self.page.url).path)[1]
        return chosen, self.page.evaluate("(key) => localStorage.getItem(key)", ID_KEY)


# A visitor's storage as the router finds it: empty, or holding only the visitor's own id.
STORED_ID = (
    "([key, id]) => { localStorage.clear(); if (id !== null) localStorage.setItem(key, id); }"
)


def test_canary_shares_and_ramp_keep_earlier_users(browser, served_site):
    site_api, server, _, b = served_site
    visitors = Visitors(browser, server.url)
    ids: list[str | None] = [None] * VISITORS
    try:
        shares = {}
        for percent in (10, 30):
            plan = site_api.canary(b, percent)
            started = time.monotonic()
            visits = [visitors.visit(i) for i in ids]
            seconds = time.monotonic() - started
            known, ids = ids, [i for _, i in visits]
            chosen = [release for release, _ in visits]
            assert len(set(ids)) == VISITORS  # empty storage: every new visitor its own id
            assert known in ([None] * VISITORS, ids)  # a returning visitor keeps it
            # The shipped router computes exactly the documented bucket...
            assert chosen == [expected_release(plan, bucket(i, plan.salt)) for i in ids]
            # ...and the share is what was asked, within the binomial tolerance for VISITORS.
            lo, hi = binomial_bounds(VISITORS, percent / 100, TAIL)
            count = chosen.count(b)
            assert lo <= count <= hi, f"{count} of {VISITORS} got the {percent}% canary"
            shares[percent] = {i for i, r in zip(ids, chosen, strict=True) if r == b}
            print(
                f"{percent}%: {count}/{VISITORS} canary, {seconds / VISITORS * 1000:.0f} ms a visit"
            )
        assert shares[10] <= shares[30], "ramping up moved earlier canary users back"
        visitors.watched.assert_clean()
        for identifier in ids:
            assert not any(identifier in url for url in visitors.watched.requests)
            assert not any(identifier in body for body in visitors.bodies)
    finally:
        visitors.watched.context.close()
        site_api.rollback()


def release_requests(requests: list[str], origin: str) -> set[str]:
    """The releases whose files a page load fetched (runtime/ is shared by all)."""
    paths = [urlsplit(url).path for url in requests if url.startswith(origin)]
    return {p.split("/")[2] for p in paths if p.startswith("/releases/")}


def test_promote_and_rollback_take_effect_on_the_next_load_without_mixing(browser, served_site):
    site_api, server, a, b = served_site
    watched = watch(browser, server.url)
    page = watched.new_page()
    responses = []
    page.on("response", lambda r: responses.append(r))
    try:
        page.goto(server.url)
        page.wait_for_url(f"**/releases/{a}/")
        page.evaluate("window.staticml.ready")
        # Release A's service worker keeps A's files: let it finish before counting B's.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        assert page.locator("h1").inner_text() == "Wine release A"
        first = list(watched.requests)
        assert release_requests(first, server.url) == {a}
        runtime_a = {u for u in first if "/runtime/" in u}
        assert runtime_a, "the runtime comes from the shared folder"

        site_api.promote(b)
        watched.requests.clear()
        page.goto(server.url)
        page.wait_for_url(f"**/releases/{b}/")
        page.evaluate("window.staticml.ready")
        assert page.locator("h1").inner_text() == "Wine release B"
        assert release_requests(watched.requests, server.url) == {b}
        runtime_b = {u for u in watched.requests if "/runtime/" in u}
        assert runtime_b <= runtime_a  # the same URLs: served from the browser cache
        immutable = [r for r in responses if "/runtime/" in r.url]
        assert all("immutable" in r.headers["cache-control"] for r in immutable)
        manifest = [r for r in responses if r.url.endswith("/manifest.json")]
        assert manifest and all(r.headers["cache-control"] == "no-cache" for r in manifest)

        site_api.rollback()
        page.goto(server.url)
        page.wait_for_url(f"**/releases/{a}/")
        assert page.locator("h1").inner_text() == "Wine release A"
        watched.assert_clean()
    finally:
        watched.context.close()


def test_a_stale_release_page_goes_back_to_the_router(browser, served_site):
    site_api, server, a, b = served_site
    watched = watch(browser, server.url)
    page = watched.new_page()
    try:
        page.goto(server.url)
        page.wait_for_url(f"**/releases/{a}/")
        # Let this load's own check of the plan finish first: had it seen the promotion, it
        # would reroute now, and the reload below would be held back by the loop guard.
        page.evaluate("window.staticml.rollout.then((r) => r.planChecked())")
        site_api.promote(b)
        page.reload()  # a reload of the release's own URL, after the plan changed
        page.wait_for_url(f"**/releases/{b}/")
    finally:
        watched.context.close()
        site_api.rollback()


def test_shadow_disagreement_and_feedback_reach_the_collector(
    browser, served_site, wine_releases, tmp_path
):
    site_api, server, a, b = served_site
    site_api.shadow(b)
    collector = f"http://127.0.0.1:{wine_releases.collector_port}"
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    records = sample_records()
    releases = site_api.root / "releases"
    with beacon(
        releases / a,
        db,
        "--site",  # accepts release b too: every release in the site
        str(site_api.root),
        "--allow-origin",
        server.url.rstrip("/"),
        port=wine_releases.collector_port,
    ):
        watched = watch(browser, server.url, allowed=(collector,))
        page = watched.new_page()
        sent = []
        page.on(
            "request",
            lambda r: (
                sent.append((r.url, r.post_data or "")) if r.url.startswith(collector) else None
            ),
        )
        try:
            page.goto(server.url)
            page.wait_for_url(f"**/releases/{a}/")
            page.evaluate("window.staticml.ready")
            page.evaluate("window.staticml.rollout.then((r) => r.shadowReady())")
            labels = []
            for record in records[:5]:
                labels.append(page.evaluate("(r) => window.staticml.predict(r)", record)["label"])
                page.locator("#feedback-right").click()
            identifier = page.evaluate("localStorage.getItem('staticml-rollout:id')")
            # The page sends a summary per `min_predictions` (5) events: 5 comparisons and
            # 5 clicks arrive in two summaries, so wait for all ten events.
            report = wait_for(
                lambda: get_json(collector + "/v1/rollout"), lambda r: events(r, a, b) >= 10
            )
            shadow = report["shadows"][a][b]
            assert shadow["n"] == 5
            disagreeing = sum(label in ("cultivar 1", "cultivar 2") for label in labels)
            assert disagreeing > 0
            assert shadow["agree"] == 5 - disagreeing
            assert report["variants"][a]["right"] == 5
            watched.assert_clean()
        finally:
            watched.context.close()
            site_api.shadow(None)
    bodies = [json.loads(body) for url, body in sent if url.endswith("/v1/rollout")]
    assert bodies, "no rollout summary was sent"
    for body in bodies:
        assert set(body) == {"v", "id", "release", "hour", "shadow", "feedback"}
        assert re.fullmatch(r"[0-9a-f]{32}", body["id"]), body["id"]
        # Nothing but counts: every value is an integer, a release id or the hour; no input
        # value, no label (let alone a list of them), no identifier.
        strings = [leaf for leaf in leaves(body) if not isinstance(leaf, int)]
        assert set(strings) <= {a, b, body["hour"], body["id"]}, strings
        assert identifier not in json.dumps(body)


def events(report: dict, a: str, b: str) -> int:
    """The shadow comparisons and feedback clicks the collector has counted for release a."""
    shadow = report["shadows"].get(a, {}).get(b, {}).get("n", 0)
    feedback = report["variants"].get(a, {})
    return shadow + feedback.get("right", 0) + feedback.get("wrong", 0)


def leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif value is not None:
        yield value


def wait_for(fetch, ready, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)
