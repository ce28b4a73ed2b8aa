"""A changed script never runs: every JavaScript file a site ships, changed on the host in turn.

The site is two releases of the wine example with B running as A's shadow, so one visit (routed
to A) runs every kind of script there is: the router and the storage-keys module it imports, A's
page modules (app.js and every module it imports, through the page's import map), rollout and
shadow modules, worker and its batch module, and service worker, the shared runtimes' modules,
and B's worker (with its checked-fetch and batch modules) as the shadow. Each test prepends
code to one file that would leave a trace if it ran (a request to a marker URL, synchronous
where the context allows, so it reaches the server before the script goes on), removes the
file's precompressed copies (or they would be served instead), and opens the site in a fresh
browser context. The file must have been requested (the check saw it), refused, and the
marker never asked for.

`sw.js` is the exception, and the test says so: like `index.html` it is a root of trust
(SECURITY.md); the browser runs a changed one as the service worker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from staticml.rollout import Site
from staticml.serve import create_app
from tests.support.rollout import sample_records
from tests.support.serving import serve_in_thread
from tests.support.tampering import (
    MARKER,
    Shadowed,
    one_script,
    open_release,
    prepended,
    recording,
    refusal_seen,
    shipped_scripts,
    trace,
    visit,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory, wine_releases) -> Shadowed:
    """A site whose visitors get release A, with B as the shadow (never changed: tests copy it)."""
    site = Site(tmp_path_factory.mktemp("tampering") / "site")
    a, b = site.add(wine_releases.a), site.add(wine_releases.b)
    site.shadow(b)
    return Shadowed(site.root, a, b)


# The modules app.js imports, each pinned with its integrity by the page's import map; the
# rollout and shadow modules are imported later (ROLLOUT, SHADOW).
PAGE_MODULES = [
    "app",
    "batch",
    "budget",
    "checked-fetch",
    "features",
    "inputs",
    "monitor",
    "results",
    "runtime",
    "samples",
    "status",
    "storage",
]
SCRIPT_TAGS = [
    ("router", r"router\.\w+\.js"),
    ("router-storage", r"storage\.\w+\.js"),
    *((f"page-{m}", rf"releases/{{a}}/static/{m}\.\w+\.js") for m in PAGE_MODULES),
]


@pytest.mark.parametrize(("case", "pattern"), SCRIPT_TAGS)
def test_a_changed_script_tag_is_blocked_by_the_browser(
    shadowed, tmp_path, open_browser, case, pattern
):
    """The router and the page script are `<script integrity>` tags, and the modules they
    import are pinned by their page's import map: the browser refuses a changed one, so
    nothing of them runs, not even code that could say so: the page stays as its HTML left it,
    and the console has the browser's report."""
    with visit(shadowed, tmp_path, open_browser, prepended(case, pattern, shadowed)) as seen:
        with seen.page.expect_console_message(refusal_seen(seen.target)):
            seen.page.goto(seen.watched.origin)
        state = seen.page.get_attribute("body", "data-state")
        assert seen.page.evaluate("typeof window.staticml") == "undefined"
    assert state == ("routing" if case.startswith("router") else "loading")
    seen.assert_refused_unrun()


def test_every_page_module_is_changed_by_a_test(shadowed):
    """No module of a release's page escapes the tests above and below."""
    folder = shadowed.root / "releases" / shadowed.a / "static"
    shipped = {p.name.split(".")[0] for p in folder.iterdir() if p.suffix == ".js"}
    assert shipped == {*PAGE_MODULES, "rollout", "shadow"}


BOOT_FILES = [
    ("worker", r"releases/{a}/wasm/worker\.\w+\.mjs"),
    ("batch", r"releases/{a}/wasm/batch\.\w+\.mjs"),
    ("python", r"releases/{a}/wasm/python\.\w+\.mjs"),
    ("model", r"releases/{a}/wasm/model\.\w+\.mjs"),
    ("pyodide", r"runtime/pyodide-\w+/pyodide\.mjs"),
    ("pyodide-asm", r"runtime/pyodide-\w+/pyodide\.asm\.mjs"),
    ("ort", r"runtime/ort-\w+/ort\.wasm\.min\.mjs"),
    ("ort-glue", r"runtime/ort-\w+/ort-wasm-simd-threaded\.mjs"),
]


@pytest.mark.parametrize(("case", "pattern"), BOOT_FILES)
def test_a_changed_worker_or_runtime_module_is_refused_by_name(
    shadowed, tmp_path, open_browser, case, pattern
):
    with visit(shadowed, tmp_path, open_browser, prepended(case, pattern, shadowed)) as seen:
        seen.page.goto(seen.watched.origin)
        seen.page.locator("#error").wait_for(state="visible", timeout=90_000)
        message = seen.page.text_content("#error")
        assert seen.page.get_attribute("body", "data-state") == "failed"
    assert Path(seen.target).name in message, message
    assert "does not match the hash in the build's manifest" in message
    seen.assert_refused_unrun()


ROLLOUT = ("rollout", r"releases/{a}/static/rollout\.\w+\.js")


def test_a_changed_rollout_module_is_refused_and_the_model_still_works(
    shadowed, tmp_path, open_browser
):
    with visit(shadowed, tmp_path, open_browser, prepended(*ROLLOUT, shadowed)) as seen:
        page = seen.page
        open_release(page, seen.watched.origin, shadowed.a)
        page.locator("#error").wait_for(state="visible")
        message = page.text_content("#error")
        refused = page.evaluate("window.staticml.rollout.then(() => 'ran', (e) => e.message)")
        result = page.evaluate("(r) => window.staticml.predict(r)", sample_records()[0])
        assert page.get_attribute("body", "data-state") == "ready"
    assert message.startswith("Rollout features are off.")
    assert Path(seen.target).name in message and "does not match the hash" in message
    assert Path(seen.target).name in refused
    assert result["label"].startswith("cultivar")
    seen.assert_refused_unrun()


SHADOW = ("shadow", r"releases/{a}/static/shadow\.\w+\.js")


def test_a_changed_shadow_module_is_refused_and_the_model_still_works(
    shadowed, tmp_path, open_browser
):
    """rollout.js imports it: the import map refuses it, so the rollout module is not started
    (the browser's report names the file), and predictions go on."""
    with visit(shadowed, tmp_path, open_browser, prepended(*SHADOW, shadowed)) as seen:
        page = seen.page
        with page.expect_console_message(refusal_seen(seen.target)):
            open_release(page, seen.watched.origin, shadowed.a)
        page.locator("#error").wait_for(state="visible")
        message = page.text_content("#error")
        result = page.evaluate("(r) => window.staticml.predict(r)", sample_records()[0])
        assert page.get_attribute("body", "data-state") == "ready"
    assert message.startswith("Rollout features are off."), message
    assert result["label"].startswith("cultivar")
    seen.assert_refused_unrun()


SHADOW_WORKER = ("shadow-worker", r"releases/{b}/wasm/worker\.\w+\.mjs")
# What the shadow worker imports at boot: checked by A's page before the worker starts, and by
# the worker itself.
SHADOW_MODULES = [
    ("shadow-checked-fetch", r"releases/{b}/static/checked-fetch\.\w+\.js"),
    ("shadow-batch", r"releases/{b}/wasm/batch\.\w+\.mjs"),
    ("shadow-python", r"releases/{b}/wasm/python\.\w+\.mjs"),
    ("shadow-model", r"releases/{b}/wasm/model\.\w+\.mjs"),
]


def shadow_outcome(page) -> str:
    return page.evaluate(
        "window.staticml.rollout.then((r) => r.shadowReady()).then(() => 'started', (e) => e.message)"
    )


@pytest.mark.parametrize(("case", "pattern"), [SHADOW_WORKER, *SHADOW_MODULES])
def test_a_changed_shadow_worker_never_starts(shadowed, tmp_path, open_browser, case, pattern):
    with visit(shadowed, tmp_path, open_browser, prepended(case, pattern, shadowed)) as seen:
        open_release(seen.page, seen.watched.origin, shadowed.a)
        outcome = shadow_outcome(seen.page)
        seen.page.evaluate("(r) => window.staticml.predict(r)", sample_records()[0])
    assert Path(seen.target).name in outcome and "does not match the hash" in outcome, outcome
    seen.assert_refused_unrun()


def own_worker(shadowed: Shadowed) -> Callable[[Path], str]:
    """The change a host would make to start a worker of its own as the shadow: a new script,
    and the shadow's config.json naming it, with that script's correct hash."""

    def change(root: Path) -> str:
        release = root / "releases" / shadowed.b
        (release / "wasm" / "own.mjs").write_bytes(trace("own-worker"))
        digest = hashlib.sha256((release / "wasm" / "own.mjs").read_bytes()).digest()
        config = json.loads((release / "config.json").read_text())
        config["worker"] = "wasm/own.mjs"
        config["integrity"]["wasm/own.mjs"] = "sha256-" + base64.b64encode(digest).decode()
        (release / "config.json").write_text(json.dumps(config))
        return f"releases/{shadowed.b}/config.json"

    return change


def test_a_changed_shadow_config_is_refused(shadowed, tmp_path, open_browser):
    with visit(shadowed, tmp_path, open_browser, own_worker(shadowed)) as seen:
        open_release(seen.page, seen.watched.origin, shadowed.a)
        outcome = shadow_outcome(seen.page)
    assert "config.json is not the one the site's plan pins" in outcome, outcome
    assert f"/releases/{shadowed.b}/wasm/own.mjs" not in seen.requests
    seen.assert_refused_unrun()


def test_a_changed_service_worker_runs_it_is_a_root_of_trust(shadowed, tmp_path, open_browser):
    """`sw.js` cannot be checked before it runs: `register()` takes no integrity, the browser
    fetches it again by itself to look for updates, and it cannot be pinned in `index.html`,
    whose hash it holds. So the browser runs a changed one, in the service worker (never in
    the page). SECURITY.md lists it with `index.html` and `manifest.json` as roots of trust."""
    change = prepended("service-worker", r"releases/{a}/sw\.js", shadowed)
    with visit(shadowed, tmp_path, open_browser, change) as seen:
        open_release(seen.page, seen.watched.origin, shadowed.a)
        seen.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        deadline = time.monotonic() + 30
        while not seen.markers() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert seen.markers() == [f"{MARKER}service-worker?in=ServiceWorkerGlobalScope"]


CHANGED_ONE_BY_ONE = [
    *(pattern for _, pattern in SCRIPT_TAGS),
    ROLLOUT[1],
    SHADOW[1],
    *(pattern for _, pattern in BOOT_FILES),
    SHADOW_WORKER[1],
    *(pattern for _, pattern in SHADOW_MODULES),
    r"releases/{a}/sw\.js",
]


def test_the_tests_above_change_every_script_a_visit_runs(shadowed, tmp_path, open_browser):
    """A visit to the unchanged site (which starts the shadow: the refusals above are not its
    absence) loads exactly the scripts the tests above change. The site's other scripts are
    release B's page modules (but checked-fetch.js, which B's worker imports too), which a
    visitor routed to B runs in the roles A's play here."""
    root = tmp_path / "site"
    shutil.copytree(shadowed.root, root)
    requests: list[str] = []
    with serve_in_thread(recording(create_app(root), requests), ready="manifest.json") as server:
        collector = json.loads((root / "releases" / shadowed.a / "bundle.json").read_text())
        watched = open_browser(server.url, allowed=(collector["monitor"]["collector"],))
        page = watched.new_page()
        open_release(page, server.url, shadowed.a)
        outcome = shadow_outcome(page)
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    assert outcome == "started"
    shipped = shipped_scripts(root)
    loaded = {r.lstrip("/") for r in requests} & shipped
    assert loaded == {one_script(root, p, shadowed) for p in CHANGED_ONE_BY_ONE}
    b = f"releases/{shadowed.b}/"
    b_page = [m for m in [*PAGE_MODULES, "rollout", "shadow"] if m != "checked-fetch"]
    assert {p.removeprefix(b) for p in shipped - loaded} == {
        one_script(root, rf"releases/{{b}}/static/{m}\.\w+\.js", shadowed).removeprefix(b)
        for m in b_page
    } | {"sw.js"}


@pytest.mark.parametrize(
    ("routes", "shadow"),
    [
        ([{"release": "..", "share": 1}], None),
        ([{"release": "../releases/x", "share": 1}], None),
        ([{"release": "{a}", "share": 2}, {"release": "{b}", "share": -1}], None),
        ([{"release": "{a}", "share": "1"}], None),
        ([{"release": "{a}", "share": 1}], "../.."),
    ],
    ids=["dot-dot", "slash", "share-out-of-range", "share-not-a-number", "shadow-dot-dot"],
)
def test_the_router_refuses_a_plan_that_is_not_release_ids_and_shares(
    shadowed, tmp_path, open_browser, routes, shadow
):
    """A plan the host changed to route to `..` (the router page again: a loop), out of
    `releases/`, or by shares that are not in [0, 1]: the router says so and goes nowhere."""
    root = tmp_path / "site"
    shutil.copytree(shadowed.root, root)
    plan = json.loads((root / "manifest.json").read_text())
    plan["routes"] = json.loads(
        json.dumps(routes).replace("{a}", shadowed.a).replace("{b}", shadowed.b)
    )
    plan["shadow"] = shadow
    (root / "manifest.json").write_text(json.dumps(plan))
    requests: list[str] = []
    with serve_in_thread(recording(create_app(root), requests), ready="manifest.json") as server:
        page = open_browser(server.url).new_page()
        requests.clear()  # the server's readiness check
        page.goto(server.url)
        page.wait_for_function("() => document.body.dataset.state === 'failed'")
        status = page.text_content("#router-status")
        url = page.url
    assert status.startswith("This site cannot choose a release: manifest.json"), status
    assert url == server.url
    assert requests.count("/manifest.json") == 1
    assert not any(r.startswith("/releases/") for r in requests)
