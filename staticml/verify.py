"""`staticml build --verify`: run the built site in headless Chromium before anyone else does.

The site is served on 127.0.0.1 exactly as `staticml serve` serves it; the page must start its
runtimes (so onnxruntime-web accepts the model's operators and Pyodide the app's code), and
every shipped sample must give the CPython reference prediction. Requests may not leave the
page's origin and the console must stay free of errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import StaticMLError
from staticml.headless import chromium, serving
from staticml.runtime.contract import TOLERANCE


class VerifyError(StaticMLError):
    """The built site does not work in the browser as built."""


@dataclass(frozen=True)
class Verification:
    samples: int
    max_deviation: float
    boot_seconds: float
    browser: str

    def describe(self) -> str:
        return (
            f"Verified in {self.browser}: runtime started in {self.boot_seconds:.1f} s; "
            f"{self.samples} sample(s) match CPython (largest difference {self.max_deviation:.1e})."
        )


def verify_site(site: Path, timeout: float = 120.0) -> Verification:
    """Open the site in headless Chromium and check the runtime and every sample."""
    with serving(site) as origin, chromium("--verify", VerifyError) as (browser, playwright_error):
        return _check_page(browser, origin, timeout, playwright_error)


def _check_page(
    browser: Any, origin: str, timeout: float, error_type: type[Exception]
) -> Verification:
    context = browser.new_context()
    foreign: list[str] = []
    problems: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith((origin, "data:", "blob:")):
            route.fallback()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    started = time.monotonic()
    page.goto(origin)
    try:
        info = page.evaluate("window.staticml.ready")
    except error_type as exc:
        raise VerifyError(
            f"the page's runtime did not start in Chromium: {_page_message(exc)}"
        ) from exc
    boot = time.monotonic() - started
    outcomes = page.evaluate(_PREDICT_SAMPLES)
    deviation = _compare(outcomes)
    if foreign:
        raise VerifyError(f"the page made requests outside its origin: {', '.join(foreign)}")
    if problems:
        raise VerifyError("the browser console reported errors:\n  " + "\n  ".join(problems))
    return Verification(
        len(outcomes), deviation, boot, f"Chromium {browser.version} with Pyodide {info['pyodide']}"
    )


_PREDICT_SAMPLES = """async () => {
  const url = window.staticml.config.samples;
  if (!url) return [];
  const { samples } = await (await fetch(url)).json();
  const out = [];
  for (const sample of samples) {
    try {
      out.push({ name: sample.name, expected: sample.expected, result: await window.staticml.predict(sample.record) });
    } catch (error) {
      out.push({ name: sample.name, expected: sample.expected, error: error.message });
    }
  }
  return out;
}"""


def _compare(outcomes: list[dict[str, Any]]) -> float:
    worst = 0.0
    mismatches = []
    for outcome in outcomes:
        name, expected = outcome["name"], outcome["expected"]
        if "error" in outcome:
            mismatches.append(f"{name}: the browser rejected it: {outcome['error']}")
            continue
        result = outcome["result"]
        if "value" in expected:
            deviation = abs(result["value"] - expected["value"]) / max(1.0, abs(expected["value"]))
        else:
            if result["label"] != expected["label"]:
                mismatches.append(
                    f"{name}: browser says {result['label']!r}, CPython {expected['label']!r}"
                )
            deviation = max(
                abs(result["probabilities"][k] - p) for k, p in expected["probabilities"].items()
            )
        worst = max(worst, deviation)
        if deviation > TOLERANCE:
            mismatches.append(
                f"{name}: differs from CPython by {deviation:.2e} (tolerance {TOLERANCE:g})"
            )
    if mismatches:
        raise VerifyError(
            "the browser's predictions differ from the CPython reference:\n  "
            + "\n  ".join(mismatches)
        )
    return worst


def _page_message(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return text.split("Error: ", 1)[-1]
