"""The built demo in Firefox and in WebKit (Safari's engine), as in Chromium (test_demo.py,
test_offline.py): driven through their own WebDriver servers (tests/support/engines.py), every
request through a proxy that forwards only to the site's origin and collects the engine's CSP
violations. The drawing is the engine's own mouse input (WebDriver actions); offline use is a
reload from the service worker's cache while the proxy answers nothing.

A form and a CSV batch (the wine example) in these engines: test_engines_tabular.py.
Not here yet (issue 21): the engines' limits (memory, storage, isolation).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from staticml.serve import create_app
from tests.support.engines import ENGINES, READY, assert_clean, engine_page, engines_missing
from tests.support.scoring import shipped_samples
from tests.support.serving import serve_in_thread
from tests.support.tampering import MARKER, trace

pytestmark = pytest.mark.browser

TOLERANCE = 1e-5
FAILED = "() => window.staticml.ready.then(() => null, (error) => error.message)"


@pytest.fixture(scope="session", autouse=True)
def engines_installed() -> None:
    missing = engines_missing()
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)}: run ./dev test, which installs them")


@pytest.fixture(scope="module", params=ENGINES)
def booted(request, server):
    """One page per engine with the runtime booted: (the page, the ready info)."""
    with engine_page(request.param, server.url) as page:
        page.goto(server.url)
        page.wait_until("window.staticml", timeout=60)
        info = page.call(READY)
        yield page, info
        assert_clean(page)


def test_python_starts_from_the_snapshot_and_the_page_says_so(booted):
    page, info = booted
    assert (info["snapshot"], info["snapshotError"]) == (True, None)
    assert info["snapshotUrl"].endswith("/python.snapshot")
    assert page.text("#status-stage") == "Ready."
    assert "from the Python snapshot" in page.text("#status-bytes")


def test_every_sample_matches_the_cpython_reference(booted, built_site):
    page, _ = booted
    samples = shipped_samples(built_site.path)
    results = page.call(
        "async (records) => { const out = []; for (const r of records)"
        " out.push(await window.staticml.predict(r)); return out; }",
        [s["record"] for s in samples],
    )
    for sample, result in zip(samples, results, strict=True):
        expected = sample["expected"]
        assert result["label"] == expected["label"], sample["name"]
        for name, p in expected["probabilities"].items():
            assert abs(result["probabilities"][name] - p) <= TOLERANCE, (sample["name"], name)


def test_clicking_a_sample_shows_agreement_with_the_reference(booted, built_site):
    page, _ = booted
    sample = shipped_samples(built_site.path)[0]
    page.click("button.sample")
    page.wait_until("document.querySelector('#result-note').textContent.includes('CPython')")
    assert page.text("#result-label") == sample["expected"]["label"]
    assert "same label" in page.text("#result-note")
    assert page.call("() => document.querySelectorAll('#bars li').length") == 10


@pytest.mark.parametrize(
    ("digit", "strokes"),
    [
        ("1", [[(0.5, 0.15), (0.5, 0.85)]]),
        (
            "0",
            [
                [
                    (0.5, 0.15),
                    (0.3, 0.3),
                    (0.28, 0.6),
                    (0.5, 0.85),
                    (0.7, 0.6),
                    (0.7, 0.3),
                    (0.5, 0.15),
                ]
            ],
        ),
        ("7", [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]),
    ],
)
def test_drawing_with_the_mouse_shows_a_prediction(booted, digit, strokes):
    page, _ = booted
    page.click("#clear")
    assert page.text("#result-label") == "–"
    assert page.call("() => document.querySelectorAll('#bars li').length") == 0
    page.draw("canvas.draw", strokes)
    page.wait_until("document.querySelectorAll('#bars li').length === 10", timeout=60)
    assert page.text("#result-label") == digit
    shown = page.call(
        "() => [...document.querySelectorAll('.bar-value')].map((e) => parseFloat(e.textContent))"
    )
    assert abs(sum(shown) - 100) < 1.0
    assert re.search(r"Preprocessing [\d.]+ ms \(Python\)", page.text("#timings"))


def test_a_malformed_record_is_refused_naming_the_field(booted):
    page, _ = booted
    outcome = page.call(
        "async (record) => { try { await window.staticml.predict(record); return null; }"
        " catch (error) { return {message: error.message, field: error.field}; } }",
        {"image": {"width": 2, "height": 2, "pixels": [1, 2, 3]}},
    )
    assert outcome is not None and outcome["field"] == "image.pixels"


def test_a_repeat_visit_boots_and_predicts_with_the_network_gone(booted, built_site):
    """Last of the tests on `booted`: it reloads the page, from the service worker's cache."""
    page, _ = booted
    # Active only once every file of the release is cached (the install waits for it).
    page.call("() => navigator.serviceWorker.ready.then(() => true)", timeout=120)
    page.recorded.offline = True
    try:
        # The network is really gone: bundle.json is not part of the cached release.
        gone = (
            "() => fetch('bundle.json', {cache: 'no-store'}).then(() => 'online', () => 'offline')"
        )
        assert page.call(gone) == "offline"
        assert page.recorded.origin + "/bundle.json" in page.recorded.unanswered
        page.goto(page.recorded.origin + "/")
        page.wait_until("window.staticml", timeout=60)
        info = page.call(READY)
        assert info["snapshot"] is True
        assert page.call("() => navigator.serviceWorker.controller !== null")
        assert page.text("#result-label") == "–"  # a new page, not the one before the reload
        sample = shipped_samples(built_site.path)[0]
        page.click("button.sample")
        page.wait_until("document.querySelector('#result-note').textContent.includes('CPython')")
        assert page.text("#result-label") == sample["expected"]["label"]
        assert page.text("#status-stage") == "Ready."
    finally:
        page.recorded.offline = False


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.1)


def served_file(site: Path, pattern: str) -> Path:
    manifest = json.loads((site / "bundle.json").read_text())
    [path] = [p for p in manifest["assets"] if re.fullmatch(pattern, p)]
    return site / path


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "pattern", [r"wasm/worker\.\w+\.mjs", r"runtime/pyodide-\w+/pyodide\.asm\.mjs"]
)
def test_a_changed_script_is_refused_by_name_and_never_runs(site_copy, engine, pattern):
    target = served_file(site_copy, pattern)
    # Code that would announce itself, by a request the proxy records, if it ever ran.
    target.write_bytes(trace("changed") + target.read_bytes())
    for suffix in (".br", ".gz"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    with (
        serve_in_thread(create_app(site_copy)) as changed,
        engine_page(engine, changed.url) as page,
    ):
        page.goto(changed.url)
        page.wait_until("window.staticml", timeout=60)
        message = page.call(FAILED)
        page.wait_until("document.body.dataset.state === 'failed'")
        shown = page.text("#error")
        requests = page.recorded.requests
        assert page.foreign == []
    assert message and target.name in message, message
    assert "does not match the hash in the build's manifest" in message
    assert message in shown
    assert not [r for r in requests if MARKER in r], "the changed script ran"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_guards_see_a_request_off_the_origin_and_a_violation(server, engine):
    """The checks every test above relies on can fail: a navigation elsewhere is recorded (and
    goes nowhere), and a fetch the policy blocks is reported."""
    with engine_page(engine, server.url) as page:
        page.goto(server.url)
        page.wait_until("window.staticml", timeout=60)
        page.call("() => fetch('http://elsewhere.invalid/x').then(() => 'sent', () => 'blocked')")
        wait_for(lambda: page.recorded.violations, "the violation's report")
        page.goto("http://elsewhere.invalid/page")
        violations = list(page.recorded.violations)
        foreign = list(page.foreign)
    assert "http://elsewhere.invalid/page" in foreign
    assert "http://elsewhere.invalid/x" not in foreign  # the policy stopped it first
    assert any(
        v.get("csp-report", {}).get("blocked-uri", "").startswith("http://elsewhere.invalid")
        for v in violations
    ), violations
