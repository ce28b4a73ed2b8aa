"""What the page does at an engine's limits: storage blocked or full, no cross-origin isolation,
and a feature it needs missing. It keeps predicting where it can, says in its notices and the
console what it could not do, and never sends more than the privacy budget allows.

Chromium through Playwright (limits made by an init script, a small quota set over CDP, or a
server without the isolation headers); Firefox where a preference makes the limit for real.
"""

from __future__ import annotations

import json
import re

import pytest

from staticml.serve import create_app
from tests.support import free_port
from tests.support.browser import watch
from tests.support.engines import engine_page
from tests.support.monitoring import build_monitored, drawn, open_monitored, predict_all
from tests.support.scoring import shipped_samples
from tests.support.serving import serve_in_thread, serve_subprocess

pytestmark = pytest.mark.browser

NOTICES = "() => [...document.querySelectorAll('#notices li')].map((item) => item.textContent)"

# What a browser that keeps nothing for this site does (Chromium with the site's cookies
# blocked): reading localStorage, sessionStorage, indexedDB or caches throws, and so does
# registering a service worker.
STORAGE_BLOCKED = """
(() => {
  const denied = () => { throw new DOMException("Access is denied for this document.", "SecurityError"); };
  for (const name of ["localStorage", "sessionStorage", "indexedDB", "caches"]) {
    Object.defineProperty(window, name, { get: denied, configurable: true });
  }
  navigator.serviceWorker.register = () =>
    Promise.reject(new DOMException("The user denied permission to use Service Worker.", "SecurityError"));
})();
"""

# localStorage with no room left for the privacy budget's record; the writes tried are counted.
BUDGET_FULL = """
(() => {
  const setItem = Storage.prototype.setItem;
  window.budgetWrites = 0;
  Storage.prototype.setItem = function (key, value) {
    if (key.endsWith(":budget")) {
      window.budgetWrites += 1;
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    return setItem.call(this, key, value);
  };
})();
"""


def notices(page) -> list[str]:
    return page.evaluate(NOTICES)


def predicts_the_first_sample(page, site) -> None:
    sample = shipped_samples(site)[0]
    result = page.evaluate("(r) => window.staticml.predict(r)", sample["record"])
    assert result["label"] == sample["expected"]["label"]


def console_of(page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"{message.type}: {message.text}"))
    return seen


# --- storage unavailable or full ------------------------------------------------------------


def test_with_storage_blocked_the_page_predicts_and_says_it_keeps_no_offline_copy(
    open_browser, server, built_site
):
    watched = open_browser(server.url)
    watched.context.add_init_script(STORAGE_BLOCKED)
    page = watched.new_page()
    console = console_of(page)
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    predicts_the_first_sample(page, built_site.path)
    page.wait_for_function(f"() => ({NOTICES})().length > 0")
    [notice] = notices(page)
    assert notice.startswith("Offline copy not kept: the service worker could not be registered")
    assert "SecurityError" in notice
    assert f"warning: staticml: {notice}" in console
    assert page.is_visible("#notices")
    assert page.text_content("#status-stage") == "Ready."
    watched.assert_clean()


def test_a_quota_too_small_for_the_release_is_said_and_leaves_no_partial_cache(
    open_browser, server, built_site
):
    watched = open_browser(server.url)
    page = watched.new_page()
    console = console_of(page)
    origin = server.url.rstrip("/")
    # Room for a few files of the release, not for its runtimes (tens of MB).
    page.context.new_cdp_session(page).send(
        "Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 2_000_000}
    )
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    page.wait_for_function(f"() => ({NOTICES})().length > 0", timeout=60_000)
    assert notices(page) == [
        "Offline copy not kept: storage is full (this browser gives this site less room than"
        " the release needs)."
    ]
    assert any(line.startswith("warning: staticml: Offline copy not kept") for line in console)
    page.wait_for_function("() => caches.keys().then((names) => names.length === 0)")
    assert page.evaluate("navigator.serviceWorker.controller") is None
    predicts_the_first_sample(page, built_site.path)
    watched.assert_clean()


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory):
    """The wine site with ε = 1 a summary and 2 a day, a summary every 5 predictions."""
    port = free_port()
    extra = "epsilon = 1\nepsilon_per_day = 2\nmin_predictions = 5\n"
    result = build_monitored(tmp_path_factory.mktemp("budgeted"), port, 0, extra)
    with serve_subprocess(result.out_dir) as server:
        yield server, port


def posts_of(page) -> list[str]:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    return posts


def test_a_privacy_budget_that_cannot_be_kept_sends_nothing(browser, budgeted):
    """Summaries are ready, but the ε they would spend cannot be written down: none goes out,
    the page says so, and it does not keep trying (one write of the budget, not a loop)."""
    server, port = budgeted
    watched = watch(browser, server.url, allowed=(f"http://127.0.0.1:{port}/",))
    watched.context.add_init_script(BUDGET_FULL)
    page = watched.new_page()
    posts = posts_of(page)
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    predict_all(page, drawn(15, shift=False))
    page.wait_for_function(f"() => ({NOTICES})().length > 0")
    page.wait_for_timeout(1000)
    assert posts == []
    assert page.evaluate("window.staticml.monitor.outbox().length") >= 1  # ready, not sent
    assert page.evaluate("window.budgetWrites") == 1
    [notice] = notices(page)
    assert "did not let the page keep its privacy budget" in notice
    assert "nothing is counted or sent" in notice
    assert page.evaluate("window.staticml.monitor.enabled()") is False
    prediction = page.evaluate("(r) => window.staticml.predict(r)", drawn(1, False, seed=8)[0])
    assert prediction["label"] in prediction["probabilities"]
    watched.assert_clean()
    watched.context.close()


def test_a_damaged_budget_record_counts_as_todays_budget_spent(browser, budgeted):
    server, port = budgeted
    watched, page = open_monitored(browser, server, port)
    posts = posts_of(page)
    page.evaluate("localStorage.setItem('staticml-monitor:wine:budget', '{damaged')")
    predict_all(page, drawn(5, shift=False))
    page.wait_for_function("() => !document.getElementById('monitor-budget').hidden")
    page.wait_for_timeout(500)
    assert posts == []
    assert page.evaluate("window.staticml.monitor.budget()") == {"spent": 2, "limit": 2}
    kept = json.loads(page.evaluate("localStorage.getItem('staticml-monitor:wine:budget')"))
    assert (kept["spent"], kept["ids"]) == (2, [])
    assert notices(page) == []
    watched.assert_clean()
    watched.context.close()


def test_with_storage_blocked_monitoring_is_off_and_says_so(browser, budgeted):
    server, port = budgeted
    watched = watch(browser, server.url, allowed=(f"http://127.0.0.1:{port}/",))
    watched.context.add_init_script(STORAGE_BLOCKED)
    page = watched.new_page()
    posts = posts_of(page)
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    predict_all(page, drawn(15, shift=False))
    page.wait_for_function(f"() => ({NOTICES})().length === 2")
    page.wait_for_timeout(500)
    assert posts == []
    summaries = [n for n in notices(page) if n.startswith("Anonymous summaries are off")]
    assert summaries and "its storage is blocked or full" in summaries[0]
    watched.assert_clean()
    watched.context.close()


# --- no cross-origin isolation -------------------------------------------------------------

ISOLATION = {b"cross-origin-opener-policy", b"cross-origin-embedder-policy"}


def without_isolation(app):
    """`app` with its responses' COOP and COEP headers dropped (a host that cannot send them)."""

    async def stripped(scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if k.lower() not in ISOLATION]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, sending)

    return stripped


THREADS_UNAVAILABLE = re.compile(
    r"^Threads unavailable: this page is not cross-origin isolated \(its server sends no"
    r" Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers\), so the model"
    r" runs on one thread\.$"
)


@pytest.fixture(scope="module")
def unisolated(built_site):
    with serve_in_thread(without_isolation(create_app(built_site.path))) as server:
        yield server


def test_without_isolation_headers_the_page_works_on_one_thread_and_says_so(
    open_browser, unisolated, built_site
):
    watched = open_browser(unisolated.url)
    page = watched.new_page()
    console = console_of(page)
    response = page.goto(unisolated.url)
    assert "cross-origin-opener-policy" not in response.headers
    info = page.evaluate("window.staticml.ready")
    assert (info["crossOriginIsolated"], info["threads"]) == (False, 1)
    predicts_the_first_sample(page, built_site.path)
    [notice] = notices(page)
    assert THREADS_UNAVAILABLE.match(notice), notice
    assert f"info: staticml: {notice}" in console
    watched.assert_clean()


def test_with_isolation_headers_nothing_is_said_about_threads(ready_page):
    assert ready_page.evaluate("window.staticml.ready.then((info) => info.crossOriginIsolated)")
    assert notices(ready_page) == []
    assert ready_page.is_hidden("#notices")


@pytest.mark.parametrize("engine", ["firefox", "webkit"])
def test_without_isolation_headers_other_engines_work_and_say_so(unisolated, built_site, engine):
    with engine_page(engine, unisolated.url) as page:
        page.goto(unisolated.url)
        page.wait_until("window.staticml", timeout=60)
        info = page.call("() => window.staticml.ready")
        sample = shipped_samples(built_site.path)[0]
        result = page.call("(r) => window.staticml.predict(r)", sample["record"])
        shown = page.call(NOTICES)
        assert page.foreign == []
        assert page.recorded.violations == []
        assert page.console_errors == []
    assert info["crossOriginIsolated"] is False
    assert result["label"] == sample["expected"]["label"]
    assert len(shown) == 1 and THREADS_UNAVAILABLE.match(shown[0]), shown


# --- a feature the page needs is missing ------------------------------------------------------

# Each stub takes a feature away the way an older engine lacks it.
WITHOUT = {
    # WebAssembly.validate refuses SIMD instructions (their 0xfd prefix): Safari before 16.4.
    "simd": """(() => { const validate = WebAssembly.validate;
        WebAssembly.validate = (bytes) => !new Uint8Array(bytes).includes(0xfd) && validate(bytes); })()""",
    # ... or a tag section (id 13 after the type and function sections): Firefox before 100.
    "exceptions": """(() => { const validate = WebAssembly.validate;
        WebAssembly.validate = (bytes) => new Uint8Array(bytes)[18] !== 13 && validate(bytes); })()""",
    # i64 globals cannot hold a BigInt: Safari before 14.1.
    "bigint": """(() => { const Global = WebAssembly.Global;
        WebAssembly.Global = function (descriptor, value) {
          if (descriptor.value === "i64") throw new TypeError("i64 is not supported");
          return new Global(descriptor, value); }; })()""",
    # `type` is never read, so the worker would run as a classic script: Firefox before 114.
    "module workers": """(() => { const Native = Worker;
        window.Worker = class extends Native { constructor(url, options) { super(url, { name: options?.name }); } }; })()""",
}
NAMED = {
    "simd": "WebAssembly SIMD (onnxruntime-web's only build): Chrome 91, Firefox 89, Safari 16.4",
    "exceptions": "WebAssembly exception handling (Pyodide's build): Chrome 95, Firefox 100, Safari 15.2",
    "bigint": "WebAssembly BigInt integration and BigInt64Array (Pyodide): Chrome 85, Firefox 78, Safari 15",
    "module workers": "module workers (the prediction worker): Chrome 80, Firefox 114, Safari 15",
}


@pytest.mark.parametrize("feature", list(WITHOUT))
def test_a_missing_feature_is_named_with_the_minimum_versions(open_browser, server, feature):
    watched = open_browser(server.url)
    watched.context.add_init_script(WITHOUT[feature])
    page = watched.new_page()
    page.goto(server.url)
    message = page.evaluate("window.staticml.ready.then(() => null, (error) => error.message)")
    page.wait_for_function("() => document.body.dataset.state === 'failed'")
    assert message == (
        f"This browser lacks what the model needs: {NAMED[feature]} or later. Update it, or open"
        " this page in Chrome 95, Firefox 114 or Safari 16.4 or later."
    )
    assert page.text_content("#error") == f"Could not start the model: {message}"
    # Stopped before the runtimes' downloads: nothing of them was asked for.
    assert not [url for url in watched.requests if "/runtime/" in url], watched.requests
    watched.assert_clean()


def test_a_page_whose_script_never_starts_says_what_it_may_lack(site_copy, open_browser):
    """As in an engine without import maps, where the page's modules are not found: its HTML
    alone tells the visitor, after a while, what the page needs."""
    [module] = (site_copy / "static").glob("samples.*.js")
    for variant in module.parent.glob(module.name + "*"):
        variant.unlink()
    with serve_in_thread(create_app(site_copy)) as server:
        watched = open_browser(server.url)
        watched.expect_errors(r"Failed to load resource: the server responded with a status of 404")
        page = watched.new_page()
        page.goto(server.url)
        page.locator("#stalled").wait_for(state="visible", timeout=60_000)
        assert page.evaluate("typeof window.staticml") == "undefined"
        assert "Chrome 95, Firefox 114 or Safari 16.4 or later" in page.text_content("#stalled")
        watched.assert_clean()


def test_a_page_whose_script_started_never_shows_that_note(ready_page):
    assert ready_page.evaluate("document.body.dataset.started") == ""
    assert ready_page.is_hidden("#stalled")


# --- Firefox: private browsing, for real -----------------------------------------------------


# Private browsing without service workers: Firefox's before they were allowed there (this
# ESR allows them, in memory, unless told otherwise).
PRIVATE = {
    "browser.privatebrowsing.autostart": True,
    "dom.serviceWorkers.privateBrowsing.enabled": False,
}


def test_firefox_private_browsing_keeps_no_offline_copy_and_says_so(server, built_site):
    with engine_page("firefox", server.url, prefs=PRIVATE) as page:
        page.goto(server.url)
        page.wait_until("window.staticml", timeout=60)
        page.call("() => window.staticml.ready")
        sample = shipped_samples(built_site.path)[0]
        result = page.call("(r) => window.staticml.predict(r)", sample["record"])
        page.wait_until(f"({NOTICES})().length > 0")
        shown = page.call(NOTICES)
        assert page.foreign == []
        assert page.recorded.violations == []
        assert page.console_errors == []
    assert result["label"] == sample["expected"]["label"]
    assert shown == [
        "Offline copy not kept: this browser lets no service worker run here (as in private"
        " browsing), so this page needs the network on every visit."
    ]
