"""The built demo in headless Chromium: what a visitor sees and what the JS API returns."""

from __future__ import annotations

import json
import re

import pytest

from staticml.serve import create_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PYODIDE_STDLIB_ERRORS, watch
from tests.support.scoring import shipped_samples
from tests.support.serving import serve_in_thread

pytestmark = pytest.mark.browser

TOLERANCE = 1e-5


def test_every_sample_matches_the_cpython_reference(ready_page, built_site):
    samples = shipped_samples(built_site.path)
    assert len(samples) == 20
    results = ready_page.evaluate(
        "async (records) => { const out = []; for (const r of records) out.push(await window.staticml.predict(r)); return out; }",
        [s["record"] for s in samples],
    )
    for sample, result in zip(samples, results, strict=True):
        expected = sample["expected"]
        assert result["label"] == expected["label"], sample["name"]
        assert result["probabilities"].keys() == expected["probabilities"].keys()
        for name, p in expected["probabilities"].items():
            assert abs(result["probabilities"][name] - p) <= TOLERANCE, (sample["name"], name)
        assert set(result["timings"]) == {"preprocessMs", "inferenceMs", "totalMs"}
        assert result["model"]["classes"] == [str(d) for d in range(10)]


def test_the_model_report_page_is_linked_and_shows_every_variant(server, built_site, open_browser):
    report = json.loads((built_site.path / "model.json").read_text())
    watched = open_browser(server.url)
    page = watched.new_page()
    page.goto(server.url)
    page.click("#model-report")
    page.wait_for_url("**/model.html")
    assert page.text_content("#chosen") == report["choice"]["variant"]
    rows = page.locator("#variants tbody tr")
    assert rows.count() == len(report["variants"])
    assert page.get_attribute(f"#variant-{report['choice']['variant']}", "class") == "chosen"
    for variant in report["variants"]:
        text = page.text_content(f"#variant-{variant['name']}")
        assert all(reason in text for reason in variant["reasons"])
    assert (
        page.evaluate("getComputedStyle(document.querySelector('tr.chosen')).backgroundColor")
        != "rgba(0, 0, 0, 0)"
    )
    watched.assert_clean()


def test_the_page_shows_ready_with_runtime_versions(ready_page):
    assert ready_page.text_content("#status-stage") == "Ready."
    bytes_line = ready_page.text_content("#status-bytes")
    assert "Pyodide 314.0.7" in bytes_line and "onnxruntime-web 1.30.0" in bytes_line
    assert bytes_line.endswith("from the Python snapshot.")


def test_boot_progress_reports_stages_and_bytes(ready_page):
    events = ready_page.evaluate("window.staticml.events")
    stages = [e["stage"] for e in events]
    assert {"download", "python", "packages", "model"} <= set(stages)
    downloads = [e for e in events if e["stage"] == "download" and e["loaded"] > 0]
    assert downloads, "no byte progress was reported while downloading"
    total = events[0]["total"]
    assert total > 20_000_000  # the two runtimes' wasm files alone
    assert all(e["total"] == total and 0 <= e["loaded"] <= total for e in events)
    assert max(e["loaded"] for e in events) == total


def draw(page, strokes) -> None:
    box = page.locator("canvas.draw").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=10)
        page.mouse.up()


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
def test_drawing_with_the_mouse_shows_a_prediction(ready_page, digit, strokes):
    page = ready_page
    page.click("#clear")
    assert page.text_content("#result-label") == "–"
    draw(page, strokes)
    page.locator("#bars li").first.wait_for()
    assert page.locator("#bars li").count() == 10
    assert page.text_content("#result-label") == digit
    shown = [float(t.rstrip("%")) for t in page.locator(".bar-value").all_text_contents()]
    assert abs(sum(shown) - 100) < 1.0
    assert re.search(r"Preprocessing [\d.]+ ms \(Python\)", page.text_content("#timings"))


def test_drawing_with_touch_shows_a_prediction(browser, server, open_browser):
    watched = open_browser(server.url, has_touch=True)
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    box = page.locator("canvas.draw").bounding_box()
    cdp = page.context.new_cdp_session(page)
    x = box["x"] + box["width"] / 2
    points = [(x, box["y"] + box["height"] * f / 10) for f in range(2, 9)]
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
    )
    for px, py in points[1:]:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.locator("#bars li").first.wait_for()
    assert page.text_content("#result-label") == "1"
    watched.assert_clean()


def test_clicking_a_sample_shows_agreement_with_the_reference(ready_page, built_site):
    sample = shipped_samples(built_site.path)[7]
    ready_page.locator("button.sample").nth(7).click()
    ready_page.locator("#result-note", has_text="CPython reference").wait_for()
    assert ready_page.text_content("#result-label") == sample["expected"]["label"]
    assert "same label" in ready_page.text_content("#result-note")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"image": {"width": 2, "height": 2, "pixels": [1, 2, 3]}}, "image.pixels"),
        ({"image": {"width": 2, "height": 2, "pixels": [1, 2, 3, 999]}}, "image.pixels[3]"),
        ({"image": {"width": 0, "height": 2, "pixels": []}}, "image.width"),
        ({"picture": {}}, "picture"),
        ({}, "image"),
    ],
)
def test_predict_rejects_a_malformed_record_naming_the_field(ready_page, record, field):
    outcome = ready_page.evaluate(
        "async (record) => { try { await window.staticml.predict(record); return null; }"
        " catch (error) { return {message: error.message, field: error.field}; } }",
        record,
    )
    assert outcome is not None, "a malformed record was accepted"
    assert outcome["field"] == field
    assert outcome["message"].startswith(f"Invalid record: {field}:")


def test_a_blank_drawing_is_explained(ready_page):
    outcome = ready_page.evaluate(
        "async () => { try { await window.staticml.predict({image: {width: 3, height: 3, pixels: new Array(9).fill(0)}}); return null; }"
        " catch (error) { return error.message; } }"
    )
    assert outcome is not None and "blank" in outcome


def boot_failure(page, url) -> str:
    """Open `url`, wait for the boot to fail, and return the message the visitor sees (which
    always comes with a "Try again" button)."""
    if url:
        page.goto(url)
    page.locator("#error").wait_for(state="visible", timeout=90_000)
    assert page.get_attribute("body", "data-state") == "failed"
    message = page.text_content("#error")
    rejected = page.evaluate("window.staticml.ready.then(() => null, (error) => error.message)")
    assert rejected and rejected in message
    assert page.is_visible("#retry") and page.text_content("#retry") == "Try again"
    return message


def test_wasm_served_with_the_wrong_type_shows_a_readable_error(built_site, open_browser):
    app = create_app(built_site.path, content_types={".wasm": "application/octet-stream"})
    with serve_in_thread(app) as odd:
        watched = open_browser(odd.url)
        message = boot_failure(watched.new_page(), odd.url)
    assert "application/wasm" in message
    assert re.search(r"(pyodide\.asm|ort-wasm-simd-threaded)\.wasm", message)
    assert watched.foreign == []


def test_modules_served_with_the_wrong_type_show_a_readable_error(built_site, open_browser):
    app = create_app(built_site.path, content_types={".mjs": "text/plain"})
    with serve_in_thread(app) as odd:
        watched = open_browser(odd.url)
        watched.expect_errors(r"MIME type|text/plain")  # Chromium's own report
        message = boot_failure(watched.new_page(), odd.url)
    assert "text/javascript" in message and "worker" in message


def test_offline_is_said_and_try_again_recovers(server, open_browser):
    watched = open_browser(server.url)
    watched.expect_errors(r"Failed to load resource|ERR_INTERNET_DISCONNECTED")

    def go_offline_after(route):
        response = route.fetch()  # the first file the worker loads arrives; then the link drops
        watched.context.set_offline(True)
        route.fulfill(response=response)

    watched.context.route(re.compile(r".*/pyodide\.mjs$"), go_offline_after, times=1)
    page = watched.new_page()
    message = boot_failure(page, server.url)
    assert "offline" in message and "Reconnect" in message
    watched.context.set_offline(False)
    page.click("#retry")
    page.evaluate("window.staticml.ready")
    assert page.get_attribute("body", "data-state") == "ready"
    assert page.is_hidden("#error") and page.is_hidden("#retry")
    result = page.evaluate(
        "window.staticml.config.samples && fetch(window.staticml.config.samples)"
        ".then(r => r.json()).then(s => window.staticml.predict(s.samples[0].record))"
    )
    assert result["label"] in [str(d) for d in range(10)]


def test_downloads_that_stall_once_offline_are_said_promptly(server, open_browser):
    """From the model's download on, nothing the page asks for ever arrives, and then the
    browser goes offline: the visitor hears that within seconds, not from the boot timer."""
    watched = open_browser(server.url)
    held: list[str] = []

    def hold_from_the_model_on(route):
        if held or route.request.url.endswith(".onnx"):
            held.append(route.request.url)  # never answered: a download that hangs
        else:
            route.fallback()

    watched.context.route("**/*", hold_from_the_model_on)
    page = watched.new_page()
    page.goto(server.url)
    while not held:
        page.wait_for_timeout(100)
    page.wait_for_timeout(2000)
    watched.context.set_offline(True)
    message = boot_failure(page, None)
    assert "went offline while the runtime was loading" in message and "Reconnect" in message
    assert "did not start within" not in message


def test_running_out_of_memory_is_said(browser, server, open_browser):
    # V8 refuses wasm memories over 64 pages (4 MiB): what a phone out of memory does.
    small = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--js-flags=--wasm-max-mem-pages=64"]
    )
    try:
        watched = watch(small, server.url)
        watched.expect_errors(r"memory|Aborted|RangeError")
        message = boot_failure(watched.new_page(), server.url)
        watched.context.close()
    finally:
        small.close()
    assert "ran out of memory" in message and "Close other tabs" in message


def test_a_missing_file_is_named(server, open_browser):
    watched = open_browser(server.url)
    watched.context.route(
        re.compile(r".*/python_stdlib\.zip$"), lambda route: route.fulfill(status=404, body="gone")
    )
    watched.expect_errors(r"404", PYODIDE_STDLIB_ERRORS)
    message = boot_failure(watched.new_page(), server.url)
    assert "python_stdlib.zip" in message and "404" in message
    assert watched.foreign == []


def test_a_stalled_download_times_out_with_a_message(server, open_browser):
    watched = open_browser(server.url)

    def short_timeout(route):
        response = route.fetch()
        html = response.text().replace('"bootTimeoutMs": 60000', '"bootTimeoutMs": 3000')
        assert '"bootTimeoutMs": 3000' in html
        route.fulfill(response=response, body=html)

    watched.context.route(server.url, short_timeout)
    watched.context.route(re.compile(r".*\.wasm$"), lambda route: None)  # never answered
    message = boot_failure(watched.new_page(), server.url)
    assert "did not start within 3 s" in message


def test_a_browser_without_webassembly_is_told_so(server, open_browser):
    watched = open_browser(server.url)
    page = watched.new_page()
    page.add_init_script("delete globalThis.WebAssembly")
    message = boot_failure(page, server.url)
    assert "WebAssembly" in message
