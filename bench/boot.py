"""Boot and hot path of built sites side by side: cold and repeat visits, the first prediction
after `ready`, warm predictions of a drawing, and the worker's boot steps.

    .venv/bin/python bench/boot.py BEFORE AFTER [...] --runs 5
    .venv/bin/python bench/boot.py dist --runs 5 --out bench/results.md   # the `boot` section

Each SITE is a built site (`staticml build APP -o SITE`); a label may be given as LABEL=SITE.
The sites and the pure-JavaScript page (made from the first site, bench/baselines/js) are
measured by bench/browser.py, one after another in each round, so the machine's load falls on
all alike: compare the ratios of one run, not figures of different runs. It is the part of
`./dev bench` (bench/run.py) that a change to the boot or the hot path needs, in minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import browser
import serving
from report import median, ms, percentile, ratio, spread
from sections import write_section

# The worker's boot steps (ms since its boot message), in the order they usually end.
STEPS = (
    "pyodideImported",
    "modelFetched",
    "sessionCreated",
    "firstRun",
    "interpreterReady",
    "wheelsInstalled",
    "warmedUp",
    "ready",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="+", help="built sites, each SITE or LABEL=SITE")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=50, help="warm predictions per run")
    parser.add_argument("--mbit", type=float, help="throttle every visit to this many Mbit/s")
    parser.add_argument("--out", type=Path, help="write the report to this file's `boot` section")
    options = parser.parse_args()
    sites = dict(labelled(entry) for entry in options.sites)
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        targets = {
            name: stack.enter_context(
                serving.served(name, serving.site_app(site), service_worker=True)
            )
            for name, site in sites.items()
        }
        js = serving.js_baseline(next(iter(sites.values())), work / "js")
        targets["pure JS"] = stack.enter_context(serving.served("pure JS", serving.site_app(js)))
        runs = measure(targets, first_records(next(iter(sites.values()))), options)
    text = render(runs, options, load_before, os.getloadavg())
    if options.out:
        write_section(options.out, "boot", text)
    print(text)


def labelled(entry: str) -> tuple[str, Path]:
    label, _, path = entry.rpartition("=")
    site = Path(path)
    if not (site / "bundle.json").is_file():
        raise SystemExit(f"{site} is not a built site (no bundle.json): build it first")
    return label or site.name, site


def first_records(site: Path) -> list[dict[str, Any]]:
    samples = json.loads(next((site / "data").glob("samples.*.json")).read_text())
    return [sample["record"] for sample in samples["samples"]]


def measure(
    targets: dict[str, serving.Served], records: list[dict[str, Any]], options: argparse.Namespace
) -> dict[str, list[browser.Run]]:
    runs: dict[str, list[browser.Run]] = {name: [] for name in targets}
    with browser.chromium() as chromium:
        for round_ in range(options.runs):
            for name, target in targets.items():
                measured = browser.measure(
                    chromium, target, records, warm=options.warm, mbit=options.mbit
                )
                runs[name].append(measured)
            print(f"round {round_ + 1} of {options.runs} done", file=sys.stderr)
    return runs


def render(
    runs: dict[str, list[browser.Run]],
    options: argparse.Namespace,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
) -> str:
    js = runs["pure JS"]
    lines = [
        "# Boot and hot path, side by side",
        "",
        f"`bench/boot.py` ({time.strftime('%Y-%m-%d')}), headless Chromium, {options.runs} "
        f"rounds, {options.warm} warm predictions per run; medians with (min–max). Every "
        "prediction is of a sample drawn on the 280×280 canvas as the page sends it. "
        + (f"Throttled to {options.mbit:g} Mbit/s." if options.mbit else "Not throttled."),
        "",
        "| page | cold: first prediction | × pure JS | repeat: first prediction | × pure JS "
        "| first prediction after ready | second | warm p50 | first / warm p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, measured in runs.items():
        cold = [float(r.cold["firstPrediction"]) for r in measured]
        repeat = [float(r.repeat["firstPrediction"]) for r in measured if r.repeat]
        first = [float(r.cold["firstMs"]) for r in measured]
        second = [float(r.cold["secondMs"]) for r in measured]
        warm = [percentile(r.warm_ms, 0.5) for r in measured]
        js_cold = median([float(r.cold["firstPrediction"]) for r in js])
        js_repeat = median([float(r.repeat["firstPrediction"]) for r in js if r.repeat])
        cells = [
            spread(cold, ms),
            ratio(median(cold), js_cold),
            spread(repeat, ms),
            ratio(median(repeat), js_repeat),
            spread(first, ms),
            spread(second, ms),
            spread(warm, ms),
            ratio(median(first), median(warm)),
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *steps(runs), ""]
    lines.append(
        "Load average (1, 5, 15 min) before: "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after: "
        + ", ".join(f"{v:.2f}" for v in load_after)
        + ". The machine is shared: above 2 (its cores), other jobs ran meanwhile."
    )
    return "\n".join(lines)


def steps(runs: dict[str, list[browser.Run]]) -> list[str]:
    """The worker's boot steps on the cold visit, for the sites (the pure-JS page has none)."""
    names = [name for name in runs if name != "pure JS"]
    lines = [
        "| cold visit: boot step (ms since the worker's boot message) | "
        + " | ".join(names)
        + " |",
        "|---|" + "---:|" * len(names),
    ]
    rows = [("(the boot message, ms after navigation start)", None), *((s, s) for s in STEPS)]
    for label, key in rows:
        cells = []
        for name in names:
            infos = [r.cold for r in runs[name] if r.cold.get("info")]
            if key is None:
                values = [float(c["readyAt"]) - c["info"]["phases"]["ready"] for c in infos]
            else:
                values = [c["info"]["phases"][key] for c in infos if key in c["info"]["phases"]]
            cells.append(f"{median(values):,.0f}" if values else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
