"""The authoring loop: from saving the preprocessing to the page showing the new build.

    .venv/bin/python bench/watch_loop.py [--runs 5] [--baseline-runs 3] [--out bench/results.md]

An app made by `staticml new` (the iris example) is served by `staticml serve --watch` in a
child process and open in headless Chromium. Each run saves an edit of its preprocessing and
times, from the save, the open page reloading with the new release and its runtime ready:

- *same features*: the edit changes the code but not a feature value (a refactor): the
  browser measurement of the model is reused;
- *new features*: the edit changes every feature value a little: the model variants are
  measured again in Chromium, as their inputs changed.

The baseline, in the same run: `staticml build` of the same app in a fresh process, as the
loop would be without a watching process (3 runs by default: it is the ratio's denominator, and
each takes half a minute). Then, in this process, the build's stages are timed
for one build and each kind of edit, to show where the time goes. The report goes to the
`watch` section of bench/results.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from staticml.scaffold import new_app  # noqa: E402
from tests.support import free_port, wait_for_http  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PREPROCESS = "iris_app/preprocess.py"
BODY = "    return [float(record[name]) for name in FEATURES]\n"
KINDS = ("same features", "new features")
TOTAL, LOAD = "whole build", "load average (1 min) after it"


def edited(original: str, kind: str, run: int) -> str:
    """The preprocessing with this run's edit: a new name (same features) or a new factor."""
    if kind == "same features":
        body = f"    values_{run} = [float(record[name]) for name in FEATURES]\n    return values_{run}\n"
    else:
        body = f"    return [float(record[name]) * {1 + (run + 1) * 1e-3!r} for name in FEATURES]\n"
    assert BODY in original
    return original.replace(BODY, body)


def reload_seconds(page, source: Path, text: str) -> float:
    page.evaluate("window.beforeTheEdit = true")
    started = time.perf_counter()
    with page.expect_navigation(timeout=300_000):  # the page reloads itself
        source.write_text(text)
    page.evaluate("window.staticml.ready")
    assert page.evaluate("window.beforeTheEdit") is None
    return time.perf_counter() - started


def loop_figures(app: Path, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    source = app / PREPROCESS
    original = source.read_text()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "staticml", "serve", "--watch", str(app), "--port", str(port)]
    figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_http(url + "bundle.json", server, seconds=600)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.evaluate("window.staticml.ready")
                for run in range(runs):
                    for kind in KINDS:
                        seconds = reload_seconds(page, source, edited(original, kind, run))
                        figures[kind].append(seconds)
                        print(f"{kind}, run {run + 1}: {seconds:.2f} s", file=sys.stderr)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.seek(0)
            builds = re.findall(r"Built release \w+ in ([\d.]+) s", log.read())
    figures["server builds"] = [float(b) for b in builds[1:]]
    source.write_text(original)
    return figures


def fresh_build_seconds(app: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "staticml", "build", str(app), "-o", str(out), "-q"], check=True
    )
    return time.perf_counter() - started


class StageTimes:
    """A build reporter that keeps the seconds each stage took."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._name: str | None = None
        self._start = 0.0

    def stage(self, name: str | None, total: int | None = None) -> None:
        now = time.perf_counter()
        if self._name is not None:
            self.times[self._name] = now - self._start
        self._name, self._start = name, now

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        self.stage(None)


def stage_times(app: Path, out: Path) -> dict[str, dict[str, float]]:
    from staticml.config import load_config
    from staticml.stages import build_app

    source = app / PREPROCESS
    original = source.read_text()
    found: dict[str, dict[str, float]] = {}
    for label, text in (
        ("first build in the process", original),
        ("same features", edited(original, "same features", 99)),
        ("new features", edited(original, "new features", 99)),
    ):
        source.write_text(text)
        reporter = StageTimes()
        started = time.perf_counter()
        build_app(load_config(app), out, reporter=reporter)
        found[label] = {
            **reporter.times,
            TOTAL: time.perf_counter() - started,
            LOAD: os.getloadavg()[0],
        }
    source.write_text(original)
    return found


def describe(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def report(loop, fresh, stages, runs, load_before, load_after) -> str:
    baseline = statistics.median(fresh)
    lines = [
        "## The authoring loop: `staticml serve --watch`",
        "",
        f"`bench/watch_loop.py`, {runs} runs of each edit on the iris app `staticml new` writes, "
        f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before and "
        f"{load_after[0]:.2f} after (1 min). From saving `preprocess.py` to the open page "
        "reloaded with the new release and its runtime ready:",
        "",
        "| edit | save → page ready (median) | its rebuild in the server | × a fresh `staticml build` |",
        "|---|---|---|---|",
    ]
    builds = loop["server builds"]
    for index, kind in enumerate(KINDS):
        own = builds[index :: len(KINDS)]
        lines.append(
            f"| {kind} | {describe(loop[kind])} | {statistics.median(own):.2f} s | "
            f"{statistics.median(loop[kind]) / baseline:.2f}× |"
        )
    lines += [
        "",
        f"Baseline: `staticml build` of the same app in a fresh process, {len(fresh)} runs, "
        f"{describe(fresh)}.",
        "",
        "Where a build's time goes, in one process (seconds per stage):",
        "",
        "| stage | " + " | ".join(stages) + " |",
        "|---|" + "---|" * len(stages),
    ]
    names = list(next(iter(stages.values())))
    for name in names:
        row = " | ".join(f"{times.get(name, 0.0):.2f}" for times in stages.values())
        lines.append(f"| {name} | {row} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    options = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="staticml-watch-bench-") as folder:
        app = new_app(Path(folder) / "iris").folder
        out = Path(folder) / "dist"
        fresh_build_seconds(app, out)  # fills the build cache, as a first `serve --watch` does
        loop = loop_figures(app, options.runs)
        fresh = [fresh_build_seconds(app, out) for _ in range(options.baseline_runs)]
        stages = stage_times(app, out)
    text = report(loop, fresh, stages, options.runs, load_before, os.getloadavg())
    print(text)
    write_section(options.out, "watch", text)


if __name__ == "__main__":
    main()
