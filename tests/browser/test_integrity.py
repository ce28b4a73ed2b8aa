"""What the browser runs is what was built, under the Content Security Policy that is served.

A file changed or truncated on the server after the build is refused by name before it is
used: the worker script (checked by the page), the runtimes' modules (checked by the worker
before it imports them), the wasm, the stdlib zip, the wheels, the model and the samples.
The suite's console check (tests/conftest.py) fails any test that causes a CSP violation;
the tests here prove that check sees violations both in the page and in the worker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from staticml.headers import security_headers
from staticml.importmap import import_maps_in
from staticml.serve import create_app
from tests.support.browser import PYODIDE_STDLIB_ERRORS
from tests.support.serving import serve_in_thread

pytestmark = pytest.mark.browser

RAN = "TAMPERED CODE RAN"


def served_file(site: Path, pattern: str) -> Path:
    manifest = json.loads((site / "bundle.json").read_text())
    [path] = [p for p in manifest["assets"] if re.fullmatch(pattern, p)]
    return site / path


def tamper(target: Path, how: str) -> None:
    """Change a served file in place, and drop its precompressed variants (or they'd be sent)."""
    data = target.read_bytes()
    if how == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        middle = len(data) // 2
        target.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
    else:  # code that would announce itself if it ever ran
        target.write_bytes(f'console.error("{RAN}");\n'.encode() + data)
    for suffix in (".br", ".gz"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("pattern", "how"),
    [
        (r"wasm/worker\.\w+\.mjs", "code"),
        (r"wasm/batch\.\w+\.mjs", "code"),
        (r"runtime/pyodide-\w+/pyodide\.asm\.mjs", "code"),
        (r"runtime/ort-\w+/ort\.wasm\.min\.mjs", "code"),
        (r"runtime/pyodide-\w+/python_stdlib\.zip", "truncate"),
        (r"runtime/ort-\w+/ort-wasm-simd-threaded\.wasm", "flip"),
        (r"wheels/\w+/digits-.*\.whl", "flip"),
        (r"model/model\.\w+\.onnx", "truncate"),
    ],
)
def test_a_changed_file_is_refused_by_name_and_never_runs(site_copy, open_browser, pattern, how):
    target = served_file(site_copy, pattern)
    tamper(target, how)
    with serve_in_thread(create_app(site_copy)) as changed:
        watched = open_browser(changed.url)
        # Chromium's own report of the failed integrity check.
        watched.expect_errors(r"integrity|digest|Failed to load resource", PYODIDE_STDLIB_ERRORS)
        page = watched.new_page()
        page.goto(changed.url)
        page.locator("#error").wait_for(state="visible", timeout=90_000)
        message = page.text_content("#error")
        assert page.get_attribute("body", "data-state") == "failed"
    assert target.name in message, message
    assert "does not match the hash in the build's manifest" in message
    assert page.is_visible("#retry")
    assert not any(RAN in error for error in watched.errors)


@pytest.mark.parametrize("module", ["runtime", "checked-fetch", "storage"])
def test_a_changed_page_module_is_refused_by_the_import_map_and_never_runs(
    site_copy, open_browser, module
):
    """A module app.js imports is pinned by the page's import map (the served policy allows
    that inline script by its hash): the browser refuses a changed one, so no page code runs."""
    target = served_file(site_copy, rf"static/{module}\.\w+\.js")
    tamper(target, "code")
    with serve_in_thread(create_app(site_copy)) as changed:
        watched = open_browser(changed.url)
        watched.expect_errors(r"integrity|digest|Failed to load resource")
        page = watched.new_page()
        with page.expect_console_message(lambda m: target.name in m.text and "integrity" in m.text):
            page.goto(changed.url)
        assert page.evaluate("typeof window.staticml") == "undefined"
        assert page.get_attribute("body", "data-state") == "loading"
    assert not any(RAN in error for error in watched.errors)


def test_changed_samples_are_refused_by_name_and_the_model_still_works(site_copy, open_browser):
    target = served_file(site_copy, r"data/samples\.\w+\.json")
    tamper(target, "flip")
    with serve_in_thread(create_app(site_copy)) as changed:
        watched = open_browser(changed.url)
        watched.expect_errors(r"integrity|digest")
        page = watched.new_page()
        page.goto(changed.url)
        page.evaluate("window.staticml.ready")
        page.locator("#error").wait_for(state="visible")
        message = page.text_content("#error")
        assert page.locator("#sample-list button").count() == 0
    assert target.name in message and "does not match the hash" in message


def strict_policy(app, remove: str):
    """`app` with `remove` taken out of every Content-Security-Policy it sends."""

    async def wrapped(scope, receive, send):
        async def edited(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, v.replace(remove.encode(), b"") if k == b"content-security-policy" else v)
                    for k, v in message["headers"]
                ]
            await send(message)

        await app(scope, receive, edited)

    return wrapped


def test_a_violation_in_the_worker_reaches_the_console_check(built_site, open_browser):
    app = strict_policy(create_app(built_site.path), " 'wasm-unsafe-eval'")
    with serve_in_thread(app) as strict:
        watched = open_browser(strict.url)
        page = watched.new_page()
        page.goto(strict.url)
        page.locator("#error").wait_for(state="visible", timeout=90_000)
        page.wait_for_timeout(200)
        watched.expect_errors(r".")  # all of them are this test's subject
    violations = [
        e for e in watched.errors if "Content Security Policy violation in the worker" in e
    ]
    assert violations and all("script-src" in v for v in violations)
    assert "WebAssembly" in page.text_content("#error") or "wasm" in page.text_content("#error")


def test_a_violation_in_the_page_reaches_the_console_check(server, open_browser):
    watched = open_browser(server.url)
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    page.wait_for_function("() => true")
    watched.expect_errors(r".")
    assert page.evaluate("window.ran") is None
    assert any(
        "Content Security Policy violation in the page: script-src" in e for e in watched.errors
    )


def test_the_served_policy_is_the_strict_one(server):
    import urllib.request

    with urllib.request.urlopen(server.url) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    # Scripts from the site itself, and one inline script: the page's import map, by its hash.
    [import_map] = import_maps_in(page)
    assert directives["script-src"] == f"'self' 'wasm-unsafe-eval' '{import_map}'"
    assert directives["default-src"] == "'none'" and directives["worker-src"] == "'self'"
    assert directives["connect-src"] == "'self'"  # the demo has no collector
    assert "unsafe-inline" not in policy and "unsafe-eval'" not in policy.replace(
        "wasm-unsafe-eval'", ""
    )
    assert "blob:" not in policy and "*" not in policy
    assert policy == security_headers(scripts=[import_map])["Content-Security-Policy"]


def test_a_changed_snapshot_part_is_refused_by_name_and_never_used(site_copy, open_browser):
    """The snapshot ships in parts under the hosts' per-file limit, each checked on its own:
    a changed one is refused, and Python starts without the snapshot, saying why."""
    target = sorted((site_copy / "runtime").glob("python-*/python*.snapshot"))[0]
    tamper(target, "flip")
    with serve_in_thread(create_app(site_copy)) as changed:
        watched = open_browser(changed.url)
        watched.expect_errors(r"integrity|digest")
        page = watched.new_page()
        page.goto(changed.url)
        info = page.evaluate("window.staticml.ready")
        assert info["snapshot"] is False and info["snapshotUrl"] is None
        why = info["snapshotError"]
        assert why.startswith(f"Could not download {target.name}: "), why
        assert "does not match the hash in the build's manifest" in why
        assert f"without the Python snapshot ({why})" in page.text_content("#status-bytes")
