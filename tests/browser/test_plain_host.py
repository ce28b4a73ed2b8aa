"""A host that sends MIME types only (GitHub Pages): the page predicts under its own policy.

Such a host sends no Content Security Policy, COOP or COEP header. The page then carries the
policy itself, as a `<meta http-equiv>` (all of it but `frame-ancestors`, which a meta cannot
hold), and says that threads are unavailable, since the page is not cross-origin isolated.
"""

from __future__ import annotations

import pytest

from staticml.headers import meta_policy
from staticml.importmap import import_maps_in
from tests.support.plain_host import plain_host
from tests.support.scoring import shipped_samples

pytestmark = pytest.mark.browser


@pytest.fixture
def plain(built_site):
    with plain_host(built_site.path) as (server, requested):
        yield server, requested


def predicted(open_browser, server, built_site):
    watched = open_browser(server.url)
    page = watched.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(server.url)
    info = page.evaluate("window.staticml.ready")
    sample = shipped_samples(built_site.path)[2]
    page.locator("button.sample").nth(2).click()
    page.locator("#result-note", has_text="CPython reference").wait_for()
    assert page.text_content("#result-label") == sample["expected"]["label"]
    return watched, page, info, console


def test_the_page_predicts_on_a_host_that_sends_mime_types_only(plain, open_browser, built_site):
    server, requested = plain
    watched, page, info, console = predicted(open_browser, server, built_site)
    response = page.context.request.get(server.url)  # what the host sent: no policy
    assert "content-security-policy" not in response.headers
    assert "cross-origin-opener-policy" not in response.headers
    response.dispose()
    assert info["snapshot"] is True and info["snapshotError"] is None
    assert any(path.endswith(".snapshot") for path in requested)
    assert not any(path.endswith((".br", ".gz")) for path in requested)
    # Not cross-origin isolated: the page says threads are unavailable, in its info, its
    # notices and the console.
    assert info["crossOriginIsolated"] is False and info["threads"] == 1
    why = info["threadsUnavailable"]
    assert why.startswith("threads are unavailable: the page is not cross-origin isolated"), why
    notice = page.text_content("#notices")
    assert notice.startswith("Threads unavailable: this page is not cross-origin isolated"), notice
    assert f"staticml: {notice}" in console
    watched.assert_clean()  # no request left the origin, no policy violation, no error


def test_the_pages_own_policy_is_in_force(plain, open_browser, built_site):
    server, _ = plain
    watched, page, _, _ = predicted(open_browser, server, built_site)
    html = (built_site.path / "index.html").read_text()
    content = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
    assert content == meta_policy(scripts=import_maps_in(html))
    assert "frame-ancestors" not in content
    watched.expect_errors(
        r"Content Security Policy violation in the page: (script-src|connect-src)",
        r"violates the following Content Security Policy directive",
        r"Fetch API cannot load .* Refused to connect",
    )
    reported = "Content Security Policy violation in the page: connect-src"
    with (
        plain_host(built_site.path) as (elsewhere, reached),  # another origin
        page.expect_console_message(lambda m: reported in m.text),
    ):
        outcome = page.evaluate(
            """async (url) => {
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true";
                document.body.append(script);
                const sent = await fetch(url).then(() => "sent", () => "blocked");
                return {sent, inlineRan: window.inlineRan === true};
            }""",
            elsewhere.url + "bundle.json",
        )
    assert outcome == {"sent": "blocked", "inlineRan": False}
    assert reached == []
    violations = [e for e in watched.errors if "Content Security Policy violation" in e]
    assert any("script-src" in v for v in violations), watched.errors
