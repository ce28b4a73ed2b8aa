"""Cold start of a built site in Firefox and WebKit, each against the pure-JavaScript page
(baseline 1, bench/baselines/js) in the same engine.

    python bench/engines.py SITE [--runs N]

SITE is a built demo (`python build.py -o SITE`). One run is one fresh engine (a new profile:
empty HTTP cache, no service worker) per page, the pages interleaved; a visit is timed from the
navigation's start to `window.staticml.ready`, then to the first prediction of a sample. The
engines are the browser tests' (tests/support/engines.py); Chromium's figures are bench/run.py's.
Prints medians, the ratio to the pure-JS page in the same engine, and which way Python started.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import serving

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.engines import ENGINES, engine_page  # noqa: E402
from tests.support.scoring import shipped_samples  # noqa: E402

VISIT = """async (record) => {
  const info = await window.staticml.ready;
  const readyAt = performance.now();
  await window.staticml.predict(record);
  return {readyAt, firstPrediction: performance.now(), snapshot: info?.snapshot ?? null,
          snapshotError: info?.snapshotError ?? null};
}"""


def visit(engine: str, url: str, record: dict) -> dict:
    with engine_page(engine, url) as page:
        page.goto(url)
        page.wait_until("window.staticml", timeout=120)
        result = page.call(VISIT, record, timeout=300)
        assert page.foreign == [], page.foreign
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    options = parser.parse_args()
    record = shipped_samples(options.site)[0]["record"]
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr)
    with serving.beside_pure_js(options.site) as pages:
        for engine in options.engines.split(","):
            runs: dict[str, list[dict]] = {name: [] for name in pages}
            for number in range(options.runs):
                for name, target in pages.items():
                    runs[name].append(visit(engine, target.url, record))
                    print(f"{engine} {name} run {number + 1}: {runs[name][-1]}", file=sys.stderr)
            report(engine, runs)
    print(f"load average at end: {os.getloadavg()}", file=sys.stderr)


def report(engine: str, runs: dict[str, list[dict]]) -> None:
    medians = {
        name: {
            key: statistics.median(r[key] for r in results)
            for key in ("readyAt", "firstPrediction")
        }
        for name, results in runs.items()
    }
    base = medians["pure JS"]["firstPrediction"]
    site = medians["staticml"]
    paths = sorted({str(r["snapshot"]) for r in runs["staticml"]})
    errors = sorted({r["snapshotError"] for r in runs["staticml"] if r["snapshotError"]})
    print(
        f"{engine}: staticml ready {site['readyAt'] / 1000:.2f} s, first prediction "
        f"{site['firstPrediction'] / 1000:.2f} s; pure JS first prediction {base / 1000:.2f} s; "
        f"ratio {site['firstPrediction'] / base:.2f}x; from the snapshot: {', '.join(paths)}"
        + (f" ({'; '.join(errors)})" if errors else "")
    )


if __name__ == "__main__":
    main()
