"""What a visitor's browser sees, measured with Playwright in headless Chromium.

Every page under test has the staticml page API (`window.staticml.ready`, `.predict(record)`),
so one procedure measures them all. One run is one new browser context (a new profile: empty
HTTP cache, no service worker):

1. cold visit: navigate, wait for `ready`, predict one sample; time from navigation start;
2. repeat visit: navigate again in the same context (warm HTTP cache, and the service worker
   where the page has one), the same measurement;
3. warm predictions: `predict` called one after another from the main thread, each timed.

Every prediction is of what the page's own UI sends for a drawing: a sample's image drawn on a
280×280 canvas as static/inputs.js draws it, its ink read back as a Uint8ClampedArray
(`DRAWN`). A visit predicts once more after its first prediction: the first one after `ready`
also pays for Python's first use of the preprocessing, the second is warm.

A site of releases (`Served.routed`) is visited at its root, whose router opens a release page;
its times count from the router's navigation start, and a visit also waits for the shadow
release's worker (`window.staticml.shadow`) when the plan runs one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from serving import Served

from staticml.headless import CHROMIUM_ARGS

# measureUserAgentSpecificMemory() answers at the next garbage collection (up to 20 s) unless
# this feature is on.
EXTRA_ARGS = ("--enable-blink-features=ForceEagerMeasureMemory",)
NAVIGATION_TIMEOUT_MS = 180_000

# Where a visit's clock starts: the router's navigation, for a site (ROUTER_START), else this page's.
START_KEY = "staticml-bench:start"
ROUTER_START = f"""if (location.pathname === "/") sessionStorage.setItem("{START_KEY}", String(performance.timeOrigin));"""

# The demo's canvas (the image field's canvas_size).
CANVAS_SIZE = 280

# A record's image as the page's canvas sends it once drawn (static/inputs.js: `draw` scales
# the image to 80% of the canvas, `record` reads the ink back from the alpha channel).
DRAWN = """(record, size) => {
  const image = record.image;
  if (!image) return record;
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  Array.from(image.pixels).forEach((value, i) => rgba.set([17, 17, 17, value], i * 4));
  const tile = new OffscreenCanvas(image.width, image.height);
  tile.getContext("2d").putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const scale = (size * 0.8) / Math.max(image.width, image.height);
  const [w, h] = [image.width * scale, image.height * scale];
  context.drawImage(tile, (size - w) / 2, (size - h) / 2, w, h);
  const ink = context.getImageData(0, 0, size, size).data;
  const pixels = new Uint8ClampedArray(size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = ink[i * 4 + 3];
  return { ...record, image: { width: size, height: size, pixels } };
}"""

VISIT = f"""async ([record, startKey]) => {{
  const drawn = ({DRAWN})(record, {CANVAS_SIZE});
  const started = Number(sessionStorage.getItem(startKey)) || performance.timeOrigin;
  const since = (now) => now + performance.timeOrigin - started;
  const info = await window.staticml.ready;
  const readyAt = since(performance.now());
  await window.staticml.predict(drawn);
  const firstPrediction = since(performance.now());
  const began = performance.now();
  await window.staticml.predict(drawn);
  const secondMs = performance.now() - began;
  const navigation = performance.getEntriesByType("navigation")[0];
  // A site's shadow starts once the page is ready; the baselines have no window.staticml.shadow.
  const shadow = window.staticml.shadow ? await window.staticml.shadow.catch(() => null) : null;
  const shadowReadyAt = shadow ? since(performance.now()) : null;
  const ui = since(navigation.domContentLoadedEventEnd);
  const firstMs = firstPrediction - readyAt;
  return {{readyAt, firstPrediction, firstMs, secondMs, ui, info: info ?? null, shadow, shadowReadyAt}};
}}"""

MEMORY = """async () => {
  if (!self.crossOriginIsolated || !performance.measureUserAgentSpecificMemory) return null;
  return (await performance.measureUserAgentSpecificMemory()).bytes;
}"""

WARM = f"""async ({{records, count}}) => {{
  const drawings = records.map((record) => ({DRAWN})(record, {CANVAS_SIZE}));
  const times = [];
  const inside = [];
  for (let i = 0; i < count; i++) {{
    const began = performance.now();
    const result = await window.staticml.predict(drawings[i % drawings.length]);
    times.push(performance.now() - began);
    if (result.timings) inside.push(result.timings.totalMs);
  }}
  return {{times, inside}};
}}"""

# The drawings as plain arrays, for CPython to predict the very same records (bench/native.py).
DRAWINGS = f"""(records) => records.map((record) => {{
  const drawn = ({DRAWN})(record, {CANVAS_SIZE});
  return drawn.image ? {{ ...drawn, image: {{ ...drawn.image, pixels: Array.from(drawn.image.pixels) }} }} : drawn;
}})"""

# The same file twice in one page: the first pass also pays for Python's first use of the code
# (imports, caches); the second is the steady state a long batch runs at.
BATCH = """async (url) => {
  await window.staticml.ready;
  const blob = await (await fetch(url)).blob();
  const file = new File([blob], "input.csv", {type: "text/csv"});
  const passes = [];
  for (let pass = 0; pass < 2; pass++) {
    const began = performance.now();
    const result = await window.staticml.predictFile(file);
    passes.push({rows: result.rows, scored: result.scored, seconds: (performance.now() - began) / 1000});
  }
  return {first: passes[0], ...passes[1]};
}"""


@dataclass
class Run:
    cold: dict[str, Any]
    repeat: dict[str, Any] | None = None
    warm_ms: list[float] = field(default_factory=list)
    # The worker's own time for each warm prediction (preprocessing + model), where reported.
    inside_ms: list[float] = field(default_factory=list)
    bytes_cold: int = 0
    bytes_repeat: int = 0
    memory: int | None = None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("STATICML_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_ARGS, *EXTRA_ARGS]
        )
        try:
            yield browser
        finally:
            browser.close()


def throttle(context: Any, page: Any, mbit: float | None) -> None:
    """Chromium's network throttling (DevTools protocol) at `mbit` Mbit/s, 20 ms latency."""
    if mbit is None:
        return
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    rate = mbit * 1e6 / 8
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": rate, "uploadThroughput": rate},
    )


def visit(page: Any, target: Served, record: dict[str, Any]) -> tuple[dict[str, Any], int]:
    before = target.counter.sent
    page.goto(target.url, wait_until="commit")
    if target.routed:
        page.wait_for_url("**/releases/*/", wait_until="commit")
    page.wait_for_function("() => window.staticml !== undefined", polling=10)
    outcome = page.evaluate(VISIT, [record, START_KEY])
    return outcome, target.counter.sent - before


def measure(
    browser: Any,
    target: Served,
    records: Sequence[dict[str, Any]],
    *,
    warm: int = 0,
    repeat: bool = True,
    mbit: float | None = None,
) -> Run:
    context = browser.new_context()
    if target.routed:
        context.add_init_script(ROUTER_START)
    try:
        page = context.new_page()
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        throttle(context, page, mbit)
        cold, sent = visit(page, target, records[0])
        run = Run(cold, bytes_cold=sent, memory=page.evaluate(MEMORY))
        if target.service_worker:
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        if repeat:
            run.repeat, run.bytes_repeat = visit(page, target, records[0])
        if warm:
            timed = page.evaluate(WARM, {"records": list(records), "count": warm})
            run.warm_ms, run.inside_ms = timed["times"], timed["inside"]
        return run
    finally:
        context.close()


def drawings(browser: Any, target: Served, records: Sequence[dict[str, Any]]) -> list[Any]:
    """`records` as the pages predict them (`DRAWN`), made in `target`'s page."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(target.url, wait_until="commit")
        return list(page.evaluate(DRAWINGS, list(records)))
    finally:
        context.close()


def batch(browser: Any, target: Served, csv_url: str) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        page.goto(target.url)
        return page.evaluate(BATCH, csv_url)
    finally:
        context.close()
