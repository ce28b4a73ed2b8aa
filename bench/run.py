"""Start-up, latency, bytes and batch throughput of the demo against the baselines.

    ./dev bench                                 # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --runs 7 --out /tmp/results.md

It builds the default app (app/) twice, with the Pyodide snapshot (the default) and without,
and examples/wine (for CSV batch scoring); serves every page on 127.0.0.1 with a byte counter;
then, in headless Chromium (Playwright, Debian's chromium), runs each page `--runs` times,
interleaved so that the machine's load falls on all alike:

- staticml, with and without the snapshot;
- baseline 1: a pure-JavaScript page, onnxruntime-web with the same model, the preprocessing
  written in JavaScript (bench/baselines/js);
- baseline 2: CPython onnxruntime with the same Python preprocessing (bench/native.py, a new
  process per run, its interpreter start included);
- baseline 3: a page calling a FastAPI endpoint per prediction (bench/baselines/api).

Then cold visits to a site of two releases of the demo, the second the first's shadow (the
router's hop, and a second runtime starting beside the first), the snapshot trade-off at 10
and 100 Mbit/s (Chromium's network throttling), and batch scoring of 10,000 CSV rows in the
page and with `staticml.batch` in CPython. The report goes
to the `perf` section of bench/results.md (the other sections are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import browser
import report
import serving
from batch import WINE, generate
from sections import write_section

if TYPE_CHECKING:
    from staticml.progress import Reporter

ROOT = Path(__file__).resolve().parent.parent
SPEEDS = (10.0, 100.0)
# A shadow runs only on pages that send rollout summaries, so the shadow site's releases name a
# collector; none listens there, and a cold visit (one prediction, fewer than the
# `min_predictions` events a summary waits for) sends nothing.
UNREACHED_COLLECTOR = "http://127.0.0.1:9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (>= 5)")
    parser.add_argument("--warm", type=int, default=200, help="warm predictions per run")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument(
        "--keep",
        type=Path,
        help="build into this folder and keep the builds; a later run with the same folder "
        "reuses them instead of building again",
    )
    options = parser.parse_args()
    if options.runs < 5:
        parser.error("--runs must be at least 5: medians of fewer runs are not reported")
    with contextlib.ExitStack() as stack:
        work = options.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        figures = collect(work, options)
    text = report.render(figures, options, " ".join(["bench/run.py", *sys.argv[1:]]))
    write_section(options.out, "perf", text)
    print(text)


def collect(work: Path, options: argparse.Namespace) -> dict[str, Any]:
    from staticml.progress import stderr_reporter

    sites = build_sites(work)
    shadow_site = build_shadow_site(work)
    samples = json.loads(next((sites["snapshot"] / "data").glob("samples.*.json")).read_text())
    records = [s["record"] for s in samples["samples"]]
    load_before = os.getloadavg()
    figures: dict[str, Any] = {"load_before": load_before}
    progress = stderr_reporter()
    with contextlib.ExitStack() as stack:
        stack.callback(progress.finish)
        targets = start_servers(stack, work, sites)
        with browser.chromium() as chromium:
            figures["version"] = chromium.version
            figures["pages"] = interleaved(
                chromium,
                targets,
                records,
                options,
                progress,
                "Pages: cold visit, repeat visit, warm predictions",
                warm=options.warm,
            )
            shadowed = start_shadow_site(stack, shadow_site)
            figures["shadow"] = shadow_runs(chromium, shadowed, records, options, progress)
            figures["throttled"] = throttled_runs(chromium, targets, records, options, progress)
            progress.stage("Baseline 2: CPython onnxruntime, a new process each run", options.runs)
            drawn = write_drawings(work, browser.drawings(chromium, targets["staticml"], records))
            figures["native"] = []
            for _ in range(options.runs):
                figures["native"].append(native_run(sites["snapshot"], work, drawn, options.warm))
                progress.advance()
            figures["batch"] = batch_runs(chromium, stack, work, sites["wine"], options, progress)
    figures["sizes"] = {name: bundle_size(site) for name, site in sites.items()}
    figures["load_after"] = os.getloadavg()
    return figures


def build_sites(work: Path) -> dict[str, Path]:
    import staticml
    from staticml.config import load_config
    from staticml.progress import stderr_reporter
    from staticml.stages.pipeline import build_app

    config = load_config(ROOT / "app")
    plain = dataclasses.replace(config, runtime=dataclasses.replace(config.runtime, snapshot=False))
    sites = {}
    for name, variant in (("snapshot", config), ("no-snapshot", plain)):
        if not (work / name / "bundle.json").is_file():
            build_app(variant, work / name, reporter=stderr_reporter())
        sites[name] = work / name
    if not (work / "wine" / "bundle.json").is_file():
        staticml.build(WINE, work / "wine", progress=True)
    sites["wine"] = work / "wine"
    return sites


def build_shadow_site(work: Path) -> Path:
    """A site of two releases of the demo (another title each), B the shadow of A."""
    from staticml.config import load_config
    from staticml.progress import stderr_reporter
    from staticml.rollout import Site
    from staticml.stages.pipeline import build_app

    site = Site(work / "shadow-site")
    if site.state().shadow is not None:
        return site.root
    config = load_config(ROOT / "app")
    builds = []
    for name in ("A", "B"):
        variant = dataclasses.replace(
            config,
            app=dataclasses.replace(config.app, title=f"{config.app.title} ({name})"),
            monitor=dataclasses.replace(config.monitor, collector=UNREACHED_COLLECTOR),
        )
        build = work / f"shadow-{name}"
        if not (build / "bundle.json").is_file():
            build_app(variant, build, reporter=stderr_reporter())
        builds.append(site.add(build))
    site.shadow(builds[1])
    return site.root


def start_shadow_site(stack: contextlib.ExitStack, site: Path) -> serving.Served:
    app = serving.site_app(site)
    return stack.enter_context(serving.served("shadow site", app, routed=True))


def shadow_runs(
    chromium: Any,
    target: serving.Served,
    records: list[dict[str, Any]],
    options: argparse.Namespace,
    progress: Reporter,
) -> list[browser.Run]:
    title = "A site with a shadow: cold visits"
    runs = interleaved(
        chromium, {target.name: target}, records, options, progress, title, repeat=False
    )
    return runs[target.name]


def start_servers(
    stack: contextlib.ExitStack, work: Path, sites: dict[str, Path]
) -> dict[str, serving.Served]:
    from api_server import prediction_api

    js = serving.js_baseline(sites["snapshot"], work / "js")
    api = stack.enter_context(prediction_api(sites["snapshot"], serving.api_pages(work / "api")))
    return {
        "staticml": stack.enter_context(
            serving.served("staticml", serving.site_app(sites["snapshot"]), service_worker=True)
        ),
        "staticml, no snapshot": stack.enter_context(
            serving.served(
                "staticml, no snapshot",
                serving.site_app(sites["no-snapshot"]),
                service_worker=True,
            )
        ),
        "pure JS": stack.enter_context(serving.served("pure JS", serving.site_app(js))),
        "FastAPI": stack.enter_context(serving.served("FastAPI", api)),
    }


def interleaved(
    chromium: Any,
    targets: dict[str, serving.Served],
    records: list[dict[str, Any]],
    options: argparse.Namespace,
    progress: Reporter,
    title: str,
    **measure: Any,
) -> dict[str, list[browser.Run]]:
    """`options.runs` measurements of every target, one target after another in each round."""
    runs: dict[str, list[browser.Run]] = {name: [] for name in targets}
    progress.stage(title, options.runs * len(targets))
    for _ in range(options.runs):
        for name, target in targets.items():
            runs[name].append(browser.measure(chromium, target, records, **measure))
            progress.advance()
    return runs


def throttled_runs(
    chromium: Any,
    targets: dict[str, serving.Served],
    records: list[dict[str, Any]],
    options: argparse.Namespace,
    progress: Reporter,
) -> dict[float, dict[str, list[browser.Run]]]:
    names = ("staticml", "staticml, no snapshot", "pure JS")
    chosen = {name: targets[name] for name in names}
    return {
        mbit: interleaved(
            chromium,
            chosen,
            records,
            options,
            progress,
            f"Cold visits at {mbit:g} Mbit/s",
            repeat=False,
            mbit=mbit,
        )
        for mbit in SPEEDS
    }


def write_drawings(work: Path, drawings: list[dict[str, Any]]) -> Path:
    """The records the pages predicted (samples drawn on the canvas), as a samples file."""
    path = work / "drawings.json"
    path.write_text(json.dumps({"samples": [{"record": record} for record in drawings]}))
    return path


def native_run(site: Path, work: Path, samples: Path, warm: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).parent / "native.py"), str(site), str(samples)]
    began = time.perf_counter()
    child = subprocess.Popen([*command, str(warm)], stdout=subprocess.PIPE, text=True, cwd=work)
    assert child.stdout is not None
    first = child.stdout.readline()
    cold_ms = (time.perf_counter() - began) * 1000
    rest = child.stdout.read()
    if child.wait() or first.strip() != "first":
        raise SystemExit(f"bench/native.py failed: {first}{rest}")
    return {"cold_ms": cold_ms, **json.loads(rest.strip().splitlines()[-1])}


def batch_runs(
    chromium: Any,
    stack: contextlib.ExitStack,
    work: Path,
    wine: Path,
    options: argparse.Namespace,
    progress: Reporter,
) -> dict[str, list[dict[str, Any]]]:
    import staticml

    source = generate(wine / "bench-input.csv", options.batch_rows)
    target = stack.enter_context(serving.served("wine", serving.site_app(wine)))
    out: dict[str, list[dict[str, Any]]] = {"browser": [], "cpython": []}
    staticml.batch(wine, source, work / "scored.csv")  # the first job imports what jobs need
    progress.stage(
        f"Batch: {options.batch_rows:,} CSV rows in the page and in CPython", options.runs
    )
    for _ in range(options.runs):
        out["browser"].append(browser.batch(chromium, target, "bench-input.csv"))
        result = staticml.batch(wine, source, work / "scored.csv")
        out["cpython"].append({"rows": result.rows, "seconds": result.seconds})
        progress.advance()
    return out


def bundle_size(site: Path) -> dict[str, int]:
    assets = json.loads((site / "bundle.json").read_text())["assets"]
    raw = sum(meta["size"] for meta in assets.values())
    brotli = sum(meta["encodings"].get("br", meta["size"]) for meta in assets.values())
    pyodide = [m for p, m in assets.items() if p.startswith("runtime/pyodide-")]
    core = sum(m["encodings"].get("br", m["size"]) for m in pyodide if m["size"] != 0)
    stdlib = sum(m["size"] for p, m in assets.items() if p.endswith("/python_stdlib.zip"))
    largest = max(assets, key=lambda p: assets[p]["size"])
    return {
        "raw": raw,
        "br": brotli,
        "pyodide_br": core,
        "stdlib": stdlib,
        "largest": assets[largest]["size"],
        "largest_path": largest,
    }


if __name__ == "__main__":
    main()
