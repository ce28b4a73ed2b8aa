"""Peak memory of a built site per engine (Chromium, Firefox, WebKit), each against the
pure-JavaScript page (baseline 1, bench/baselines/js) in the same engine.

    python bench/memory.py SITE [--runs N] [--engines chromium,firefox,webkit]

SITE is a built demo (`python build.py -o SITE`). One visit is one fresh engine (a new profile)
per page, the pages interleaved: the page boots and predicts a sample. Meanwhile the engine's
processes (every process this script started, but its WebDriver servers, Xvfb and Playwright's
driver) are read from /proc every 50 ms:

- *peak, page process*: the `VmHWM` (a process's own peak resident set, kept by the kernel, so
  no sampling misses it) of the process holding the page and its worker: Chromium's renderer,
  Firefox's web content process, WebKit's web process. An iOS browser tab is such a process,
  and it is what iOS ends when it passes its memory limit;
- *peak, all processes*: the largest sum of the processes' proportional set sizes (`Pss`, shared
  pages split among their users) seen by the sampler.

Prints medians, and each against the pure-JS page. Linux only; the figures are the engines' on
this machine, not an iPhone's (see bench/results.md for how they compare with iOS's limits).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import serving

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.engines import EngineError, engine_page  # noqa: E402
from tests.support.scoring import shipped_samples  # noqa: E402

# The process each engine runs a page and its dedicated workers in (Firefox's name is cut to
# 15 characters by the kernel).
PAGE_PROCESSES = {"chromium renderer", "Isolated Web Co", "Web Content", "WebKitWebProces"}
# Processes this script starts that are not the engine itself.
NOT_THE_ENGINE = {"node", "node-MainThread", "WebKitWebDriver", "Xvfb", "xvfb-run", "sh", "bash"}
VISIT = """async (record) => {
  const info = await window.staticml.ready;
  await window.staticml.predict(record);
  return {snapshot: info?.snapshot ?? null};
}"""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def engine_processes() -> list[int]:
    """This script's descendants that belong to an engine."""
    tree, found, todo = _children(), [], list(_children().get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        with contextlib.suppress(OSError):
            if (Path(f"/proc/{pid}/comm").read_text().strip()) not in NOT_THE_ENGINE:
                found.append(pid)
    return found


def process_name(pid: int) -> str:
    """Its command name, with Chromium's process type (`--type=renderer`) where it has one."""
    with contextlib.suppress(OSError):
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        # Chromium may rewrite its command line into one string (setproctitle).
        kind = re.search(rb"--type=([\w-]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
        return f"{name} {kind.group(1).decode()}" if kind else name
    return "?"


def _field(path: str, name: str) -> int:
    """A `Name:  N kB` line of a /proc file, in bytes (0 once the process is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Sampler:
    """Reads the engine's processes until stopped: the peaks described in the docstring."""

    peaks: dict[str, int] = field(default_factory=dict)  # by process name, its VmHWM
    total: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        pids = engine_processes()
        self.total = max(self.total, sum(_field(f"/proc/{p}/smaps_rollup", "Pss") for p in pids))
        for pid in pids:
            name = process_name(pid)
            self.peaks[name] = max(self.peaks.get(name, 0), _field(f"/proc/{pid}/status", "VmHWM"))

    def page_process(self) -> tuple[str, int]:
        """The process holding the page and its worker, and its peak."""
        pages = {name: peak for name, peak in self.peaks.items() if name in PAGE_PROCESSES}
        name = max(pages, key=pages.__getitem__)
        return name, pages[name]

    def run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.sample()  # the peaks as the visit ends, before the engine closes
            self._stop.set()
            thread.join()


@contextlib.contextmanager
def chromium_page(url: str) -> Iterator[Any]:
    from browser import chromium

    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        yield page
        context.close()


def visit(engine: str, url: str, record: dict) -> dict:
    sampler = Sampler()
    if engine == "chromium":
        with chromium_page(url) as page, sampler.running():
            page.goto(url)
            page.wait_for_function("() => window.staticml !== undefined")
            result = page.evaluate(VISIT, record)
    else:
        with engine_page(engine, url) as page, sampler.running():
            page.goto(url)
            page.wait_until("window.staticml", timeout=120)
            result = page.call(VISIT, record, timeout=300)
            assert page.foreign == [], page.foreign
    name, peak = sampler.page_process()
    return {**result, "page": peak, "process": name, "total": sampler.total, "peaks": sampler.peaks}


def megabytes(value: float) -> str:
    return f"{value / 1e6:.0f} MB"


def report(engine: str, runs: dict[str, list[dict]], tried: int) -> None:
    if not all(runs.values()):
        print(f"{engine}: no figure, a page never booted in {tried} visits")
        return
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in ("page", "total")}
        for name, results in runs.items()
    }
    site, base = medians["staticml"], medians["pure JS"]
    names = sorted({r["process"] for r in runs["staticml"]})
    print(
        f"{engine}: staticml peak, page process ({', '.join(names)}) {megabytes(site['page'])}"
        f" ({site['page'] / base['page']:.1f}x the pure-JS page's {megabytes(base['page'])});"
        f" all processes {megabytes(site['total'])} ({site['total'] / base['total']:.1f}x"
        f" {megabytes(base['total'])}); visits measured: staticml {len(runs['staticml'])},"
        f" pure JS {len(runs['pure JS'])} of {tried}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="chromium,firefox,webkit")
    options = parser.parse_args()
    record = shipped_samples(options.site)[0]["record"]
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr)
    with serving.beside_pure_js(options.site) as pages:
        for engine in options.engines.split(","):
            runs: dict[str, list[dict]] = {name: [] for name in pages}
            for number in range(options.runs):
                for name, target in pages.items():
                    try:
                        runs[name].append(visit(engine, target.url, record))
                    except EngineError as error:  # e.g. the boot timer under load: said, not hidden
                        print(f"{engine} {name} run {number + 1} failed: {error}")
                        continue
                    print(f"{engine} {name} run {number + 1}: {runs[name][-1]}", file=sys.stderr)
            report(engine, runs, options.runs)
    print(f"load average at end: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
