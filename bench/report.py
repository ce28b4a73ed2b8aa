"""The `perf` section of bench/results.md, from the figures bench/run.py collected.

Every figure is a median over the runs, with min–max beside it; every ratio divides two
medians measured in the same run of the harness. The block between the `readme` markers is
what README.md quotes (tests/test_docs.py checks they are equal).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from batch import machine
from browser import Run

PAGES = ("staticml", "staticml, no snapshot", "pure JS", "FastAPI")
README_START, README_END = "<!-- readme -->", "<!-- /readme -->"
# Boot steps the worker reports (ms since its boot message), in the order they end.
STEPS = (
    ("pyodideImported", "Pyodide's loader fetched and imported"),
    ("modelFetched", "onnxruntime-web's loader and the model fetched"),
    ("interpreterReady", "Python started (its wasm and stdlib fetched, the snapshot restored)"),
    ("sessionCreated", "onnxruntime-web's wasm fetched and compiled, model session created"),
    ("firstRun", "first (warm-up) model run"),
    ("wheelsInstalled", "app wheels installed, preprocessing imported"),
    ("ready", "ready"),
)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], unit: Callable[[float], str]) -> str:
    return f"{unit(median(values))} ({unit(min(values))}–{unit(max(values))})"


def ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2f} ms"


def mb(value: float) -> str:
    return f"{value / 1e6:.2f} MB"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def first_prediction(run: Run, visit: str = "cold") -> float:
    outcome = run.cold if visit == "cold" else run.repeat
    assert outcome is not None
    return float(outcome["firstPrediction"])


def page_row(name: str, runs: list[Run]) -> str:
    cold = [first_prediction(r) for r in runs]
    repeat = [first_prediction(r, "repeat") for r in runs]
    ui = [float(r.cold["ui"]) for r in runs]
    p50 = [percentile(r.warm_ms, 0.5) for r in runs]
    p99 = [percentile(r.warm_ms, 0.99) for r in runs]
    memory = [float(r.memory) for r in runs if r.memory is not None]
    cells = [
        spread(cold, ms),
        spread(repeat, ms),
        spread(ui, ms),
        spread(p50, ms),
        spread(p99, ms),
        mb(median([r.bytes_cold for r in runs])),
        mb(median([r.bytes_repeat for r in runs])),
        mb(median(memory)) if memory else "–",
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def shadow_row(runs: list[Run]) -> str:
    """The shadow site's cold visits, measured as the pages' (from the router's navigation)."""
    cold = [first_prediction(r) for r in runs]
    ui = [float(r.cold["ui"]) for r in runs]
    memory = [float(r.memory) for r in runs if r.memory is not None]
    cells = [
        spread(cold, ms),
        "–",
        spread(ui, ms),
        "–",
        "–",
        mb(median([r.bytes_cold for r in runs])),
        "–",
        mb(median(memory)) if memory else "–",
    ]
    return "| shadow site, cold | " + " | ".join(cells) + " |"


def shadow_notes(runs: list[Run]) -> list[str]:
    shadow_ready = [float(r.cold["shadowReadyAt"]) for r in runs if r.cold.get("shadowReadyAt")]
    started = sum(
        bool(
            (r.cold.get("info") or {}).get("snapshot")
            and (r.cold.get("shadow") or {}).get("snapshot")
        )
        for r in runs
    )
    ready = spread(shadow_ready, ms) if shadow_ready else "never (it did not start)"
    return [
        "- *Shadow site*: a site of two releases of the demo (`staticml release`), the second "
        "the shadow of the first (`staticml shadow`), each sending to a collector (monitoring "
        "must be on for a shadow to run; one visit sends nothing). A cold visit opens the "
        "site's root, whose router opens the release: its times count from the router's "
        "navigation start. The shadow's worker starts once the page is ready and was ready "
        f"at {ready}; both workers started from their snapshots in {started} of {len(runs)} "
        "runs; *bytes* and *memory* include the shadow's.",
    ]


def native_row(runs: list[dict[str, Any]]) -> str:
    cold = [r["cold_ms"] for r in runs]
    p50 = [percentile(r["warm_ms"], 0.5) for r in runs]
    p99 = [percentile(r["warm_ms"], 0.99) for r in runs]
    rss = median([r["peak_rss"] for r in runs])
    cells = [spread(cold, ms), "–", "–", spread(p50, ms), spread(p99, ms), "–", "–"]
    return "| CPython onnxruntime (native) | " + " | ".join(cells) + f" | {mb(rss)} (peak RSS) |"


def warm_notes(figures: dict[str, Any]) -> list[str]:
    runs = figures["pages"]["staticml"]
    total = median([percentile(r.warm_ms, 0.5) for r in runs])
    inside = median([percentile(r.inside_ms, 0.5) for r in runs])
    native = median([percentile(r["warm_ms"], 0.5) for r in figures["native"]])
    first = median([float(r.cold["firstMs"]) for r in runs])
    second = median([float(r.cold["secondMs"]) for r in runs])
    return [
        "- Every prediction is of a sample drawn on the page's 280×280 canvas, sent as the UI "
        "sends it (78,400 pixels in a Uint8ClampedArray); CPython predicts the same drawings.",
        f"- The cold visit's first prediction after `ready` took {ms(first)}, the one after it "
        f"{ms(second)}: {ratio(first, total)} the warm p50.",
        f"- Of the staticml page's warm p50 of {ms(total)}, the worker itself spent {ms(inside)} "
        f"(the demo's image preprocessing in Python, then the model); the rest, {ms(total - inside)}, "
        f"is the message round trip between the page and the worker. The same preprocessing and "
        f"model take {ms(native)} in CPython: that is the floor for this app, whatever the page does.",
    ]


def headline(figures: dict[str, Any]) -> dict[str, float]:
    """The ratios the issue's targets are about, from the figures of one harness run."""
    pages = figures["pages"]

    def cold(name: str, visit: str = "cold") -> float:
        return median([first_prediction(r, visit) for r in pages[name]])

    batch = figures["batch"]
    browser_rate = median([r["scored"] / r["seconds"] for r in batch["browser"]])
    native_rate = median([r["rows"] / r["seconds"] for r in batch["cpython"]])
    return {
        "cold": cold("staticml") / cold("pure JS"),
        "cold_plain": cold("staticml, no snapshot") / cold("pure JS"),
        "repeat": cold("staticml", "repeat") / cold("pure JS", "repeat"),
        "warm_p50": median([percentile(r.warm_ms, 0.5) for r in pages["staticml"]]),
        "first_after_ready": median([float(r.cold["firstMs"]) for r in pages["staticml"]])
        / median([percentile(r.warm_ms, 0.5) for r in pages["staticml"]]),
        "warm_vs_cpython": median([percentile(r.warm_ms, 0.5) for r in pages["staticml"]])
        / median([percentile(r["warm_ms"], 0.5) for r in figures["native"]]),
        "batch": browser_rate / native_rate,
        "bytes": median([r.bytes_cold for r in pages["staticml"]])
        / median([r.bytes_cold for r in pages["pure JS"]]),
        "bytes_plain": median([r.bytes_cold for r in pages["staticml, no snapshot"]])
        / median([r.bytes_cold for r in pages["pure JS"]]),
        "cold_ms": cold("staticml"),
        "cold_plain_ms": cold("staticml, no snapshot"),
        "cold_js_ms": cold("pure JS"),
        "cold_api_ms": cold("FastAPI"),
        "api_p50": median([percentile(r.warm_ms, 0.5) for r in pages["FastAPI"]]),
    }


def readme_block(h: dict[str, float]) -> str:
    return "\n".join(
        [
            README_START,
            f"- cold visit to first prediction: **{h['cold_ms'] / 1000:.2f} s**, "
            f"{h['cold']:.2f}× the pure-JavaScript page ({h['cold_js_ms'] / 1000:.2f} s); "
            f"{h['cold_plain']:.2f}× without the Pyodide snapshot "
            f"({h['cold_plain_ms'] / 1000:.2f} s);",
            f"- repeat visit: {h['repeat']:.2f}× the pure-JavaScript page, and it works offline;",
            f"- warm prediction from the page's main thread: {h['warm_p50']:.2f} ms (p50), "
            f"against {h['api_p50']:.2f} ms for a page calling a FastAPI endpoint on the same machine;",
            f"- bytes on a first visit: {h['bytes']:.2f}× the pure-JavaScript page "
            f"({h['bytes_plain']:.2f}× without the snapshot);",
            f"- batch scoring in the browser: {h['batch']:.2f}× the rows/s of CPython with the "
            "same Python preprocessing.",
            README_END,
        ]
    )


def breakdown(pages: dict[str, list[Run]]) -> list[str]:
    lines = [
        "| boot step (ms since the worker's boot message, median) | with snapshot | without |",
        "|---|---:|---:|",
    ]
    for key, label in STEPS:
        cells = []
        for name in ("staticml", "staticml, no snapshot"):
            values = [r.cold["info"]["phases"][key] for r in pages[name] if r.cold.get("info")]
            cells.append(f"{median(values):,.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    worker_start = [
        float(r.cold["readyAt"]) - r.cold["info"]["phases"]["ready"] for r in pages["staticml"]
    ]
    lines.append(
        f"| (the worker's boot message, ms after navigation start) | {median(worker_start):,.0f} | "
        + f"{median([float(r.cold['readyAt']) - r.cold['info']['phases']['ready'] for r in pages['staticml, no snapshot']]):,.0f} |"
    )
    return lines


def throttled(figures: dict[str, Any]) -> list[str]:
    lines = [
        "| bandwidth | with snapshot | without snapshot | pure JS | bytes with / without snapshot |",
        "|---|---:|---:|---:|---:|",
    ]
    for mbit, runs in figures["throttled"].items():
        cells = [spread([first_prediction(r) for r in runs[name]], ms) for name in runs]
        sizes = [mb(median([r.bytes_cold for r in runs[n]])) for n in list(runs)[:2]]
        lines.append(f"| {mbit:g} Mbit/s | " + " | ".join(cells) + f" | {' / '.join(sizes)} |")
    return lines


def batch_lines(figures: dict[str, Any], rows: int) -> list[str]:
    batch = figures["batch"]
    browser_rates = [r["scored"] / r["seconds"] for r in batch["browser"]]
    first_rates = [r["first"]["scored"] / r["first"]["seconds"] for r in batch["browser"]]
    native_rates = [r["rows"] / r["seconds"] for r in batch["cpython"]]

    def rate(value: float) -> str:
        return f"{value:,.0f}"

    return [
        f"| examples/wine, {rows:,} CSV rows | rows/s, median (min–max) |",
        "|---|---:|",
        f"| in the page (`predictFile`, Pyodide + onnxruntime-web in the worker) | {spread(browser_rates, rate)} |",
        f"| in the page, the page's first file | {spread(first_rates, rate)} |",
        f"| CPython (`staticml.batch`: the same preprocessing, onnxruntime) | {spread(native_rates, rate)} |",
        f"| ratio, browser / CPython | {ratio(median(browser_rates), median(native_rates))} |",
        "",
        "Each run scores the file twice in a new page: the first pass also pays for Python's "
        "first use of the code; the second, compared with CPython, is the rate a long batch "
        "runs at. CPython's figure is `staticml.batch` in one process (reading and writing the "
        "CSV with pyarrow), after a first job in the same process.",
    ]


def targets(h: dict[str, float]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return [
        "| target (issue 10) | achieved | |",
        "|---|---:|---|",
        f"| cold first prediction ≤ 1.5× pure JS | {h['cold']:.2f}× | {verdict(h['cold'] <= 1.5)} |",
        f"| repeat visit ≤ 3× pure JS, offline | {h['repeat']:.2f}× | {verdict(h['repeat'] <= 3)} |",
        f"| warm p50 ≤ 0.5 ms from the main thread | {h['warm_p50']:.2f} ms | {verdict(h['warm_p50'] <= 0.5)} |",
        f"| batch ≥ CPython | {h['batch']:.2f}× | {verdict(h['batch'] >= 1)} |",
        f"| first prediction after ready ≤ 1.5× warm p50 (a drawing; issue 17) | {h['first_after_ready']:.2f}× | {verdict(h['first_after_ready'] <= 1.5)} |",
        f"| warm p50 ≤ 2× CPython, same drawings (issue 17) | {h['warm_vs_cpython']:.2f}× | {verdict(h['warm_vs_cpython'] <= 2)} |",
        f"| bytes ≤ 2.2× pure JS without a snapshot | {h['bytes_plain']:.2f}× | {verdict(h['bytes_plain'] <= 2.2)} |",
    ]


def target_notes(figures: dict[str, Any], h: dict[str, float]) -> list[str]:
    pages, sizes = figures["pages"], figures["sizes"]["no-snapshot"]
    js_bytes = median([r.bytes_cold for r in pages["pure JS"]])
    native = median([percentile(r["warm_ms"], 0.5) for r in figures["native"]])
    floor = (js_bytes + sizes["pyodide_br"] - sizes["stdlib"]) / js_bytes
    return [
        "- Warm p50: the demo's preprocessing (cropping, resampling and thickening a drawing "
        f"in pure Python) takes {ms(native)} in CPython itself, so 0.5 ms is out of reach for "
        "this app in any runtime; the page adds only the round trip to its worker (above).",
        f"- Bytes: Pyodide's own files are {mb(sizes['pyodide_br'])} as served, "
        f"{mb(sizes['stdlib'])} of them the standard library (a zip of compressed files, "
        "which brotli cannot shrink further). Without the standard library, Pyodide's wasm "
        f"and loader alone would bring the page to {floor:.2f}× the pure-JavaScript page, "
        "so 2.2× needs a standard library cut down to the modules the app imports.",
        "- Cold and repeat visits: the pure-JavaScript page compiles one wasm and creates one "
        "session; staticml also starts CPython (restoring the snapshot: a 31 MB memory image) "
        "in the same worker, and its boot steps above show where the difference goes.",
    ]


def largest_file(sizes: dict[str, Any]) -> list[str]:
    """The site's largest file against Cloudflare Pages' 25 MiB per file (the strictest host
    the build writes a config for); absent from figures collected before it was measured."""
    if "largest" not in sizes:
        return []
    mib = sizes["largest"] / 1024 / 1024
    return [
        f"Largest file of the site: {mib:.1f} MiB (`{sizes['largest_path']}`), against the "
        "25 MiB per file of Cloudflare Pages: the snapshot ships in parts under it.",
        "",
    ]


def render(figures: dict[str, Any], options: argparse.Namespace, command: str) -> str:
    pages = figures["pages"]
    h = headline(figures)
    sizes = figures["sizes"]
    lines = [
        "# Start-up, latency and bytes against the baselines",
        "",
        f"`.venv/bin/python {command}` ({time.strftime('%Y-%m-%d')}): the demo (app/, the "
        f"digits MLP) in headless {figures['version'] and 'Chromium ' + figures['version']}, "
        f"{options.runs} runs of everything, interleaved; medians with (min–max). Each run is "
        "a new browser profile: the cold visit has an empty cache, the repeat visit reloads in "
        f"the same profile; {options.warm} warm predictions per run, timed one by one from the "
        "page's main thread. Served from 127.0.0.1 with no throttling unless stated.",
        "",
        "| page | cold: first prediction | repeat visit: first prediction | UI interactive "
        "(DOMContentLoaded) | warm p50 | warm p99 | bytes, cold | bytes, repeat | memory after the first prediction |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        page_row(PAGES[0], pages[PAGES[0]]),
        shadow_row(figures["shadow"]),  # beside the demo's own cold start
        *[page_row(name, pages[name]) for name in PAGES[1:]],
        native_row(figures["native"]),
        "",
        "- *Bytes* are response bodies as sent by the server (brotli where the build made a "
        "variant); *repeat* counts what the second visit fetched again. *Memory* is "
        "`performance.measureUserAgentSpecificMemory()` (JS heaps and wasm memories of the page "
        "and its workers); for CPython the process's peak RSS.",
        "- CPython's cold figure is a new process's time to its first prediction "
        "(interpreter start, imports, model load); it has no page, so no UI or bytes.",
        *warm_notes(figures),
        *shadow_notes(figures["shadow"]),
        "- The FastAPI page is ready at once but every prediction is a round trip to a server "
        "on the same machine: on a real network add the visitor's latency to each one.",
        "",
        "## Where the cold start goes",
        "",
        *breakdown(pages),
        "",
        "Python and the model load side by side, so steps overlap; the page is ready when both are.",
        "",
        "## The snapshot's trade-off: bytes against time",
        "",
        f"The snapshot makes the download {mb(sizes['snapshot']['br'] - sizes['no-snapshot']['br'])} "
        "larger (brotli) and the interpreter start shorter. Cold visits with Chromium's network "
        "throttling (DevTools protocol, 20 ms latency):",
        "",
        *throttled(figures),
        "",
        *largest_file(sizes["snapshot"]),
        "## Batch scoring",
        "",
        *batch_lines(figures, options.batch_rows),
        "",
        "## Against the targets",
        "",
        *targets(h),
        "",
        *target_notes(figures, h),
        "",
        "What README.md quotes:",
        "",
        readme_block(h),
        "",
        *machine(figures["load_before"], figures["load_after"]),
    ]
    return "\n".join(lines)
