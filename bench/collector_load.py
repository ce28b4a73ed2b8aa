"""Collector load: summaries/s and latency of `staticml beacon` on SQLite and PostgreSQL.

    .venv/bin/python bench/collector_load.py                 # 20,000 summaries, 8 clients
    .venv/bin/python bench/collector_load.py --summaries 2000 --clients 4 --out /tmp/results.md
    .venv/bin/python bench/collector_load.py --workers 1,2,4      # the PostgreSQL fleet sizes
    .venv/bin/python bench/collector_load.py --rounds 3   # each run 3 times, medians reported

For each backend it starts a real `staticml beacon` on 127.0.0.1 (a fresh SQLite file; a
throw-away PostgreSQL cluster from Debian's `postgresql`, fsync on), sends a fixed number of
valid summaries from several concurrent clients (threads, one keep-alive connection each),
then stops by itself and checks the final counts: every acknowledged summary (202) must be in
the database, with exactly the counts that were sent. It writes its section of
`bench/results.md` (replacing only that section) and exits 1 if a count check fails.
On PostgreSQL, group commit is measured for each fleet size of `--workers` (`staticml beacon
--workers N`: N collector processes on one port and one database, a fresh database each).

`run_load` is also what the test suite's small load and kill tests use.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SECTION = "# Collector load benchmark"
GROUP_COMMIT = ("group commit", ())  # how `staticml beacon` commits by default
ONE_PER_SUMMARY = ("one per summary", ("--batch-max", "1"))  # a transaction (an fsync) each


@dataclass
class LoadResult:
    """What the clients saw: per summary index, its status (0: no answer) and latency."""

    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def acknowledged(self) -> list[int]:
        return sorted(i for i, status in self.statuses.items() if status == 202)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_load(
    url: str,
    bodies: Sequence[bytes],
    clients: int,
    *,
    on_answer: Callable[[LoadResult], None] | None = None,
) -> LoadResult:
    """POST every body once to `url`/v1/summaries, spread over `clients` threads; returns when
    all are sent. A connection that fails (the collector was killed) ends that client."""
    parts = urlsplit(url)
    result = LoadResult()
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                started = time.perf_counter()
                try:
                    connection.request(
                        "POST",
                        "/v1/summaries",
                        body=bodies[index],
                        headers={"Content-Type": "text/plain;charset=UTF-8"},
                    )
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    with lock:
                        result.statuses[index] = 0
                    return
                elapsed = time.perf_counter() - started
                with lock:
                    result.statuses[index] = response.status
                    result.latencies.append(elapsed)
                    if on_answer is not None:
                        on_answer(result)
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


# --- the benchmark --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summaries", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument(
        "--workers",
        type=_sizes,
        default=(1, 2, 4),
        help="fleet sizes measured on PostgreSQL, comma-separated (default 1,2,4)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="times every run is repeated, the runs of a round one after another (default 1); "
        "the figures are medians over the rounds",
    )
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle

    runs: dict[tuple[str, str, int], list[tuple[dict[str, object], LoadResult]]] = {}
    failed = False
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="staticml-load-") as scratch:
        bundle = write_bundle(Path(scratch) / "site", wine_baseline())
        bodies = [
            body(wine_summary(rows=20, seed=i, hour=_hour(i))) for i in range(options.summaries)
        ]
        for round_ in range(1, options.rounds + 1):
            print(f"round {round_} of {options.rounds}")
            print(f"bare endpoint: {options.summaries} summaries, {options.clients} clients")
            row, result = measure_bare(bodies, options.clients)
            runs.setdefault(("bare endpoint", str(row["mode"]), 1), []).append((row, result))
            for backend, database in _databases(Path(scratch)):
                fleets = options.workers if backend == "PostgreSQL" else (1,)
                configs = [(*GROUP_COMMIT, n) for n in fleets] + [(*ONE_PER_SUMMARY, 1)]
                for mode, extra, workers in configs:
                    with database() as url:
                        print(
                            f"{backend}, {mode}, {workers} workers: {options.summaries} summaries"
                        )
                        flags = (*extra, "--workers", str(workers))
                        row, result, ok = measure(
                            backend, bundle, url, bodies, options.clients, RELEASE, flags
                        )
                        row |= {"mode": mode, "workers": workers}
                        runs.setdefault((backend, mode, workers), []).append((row, result))
                        failed |= not ok
    rows = [median_row(measured) for measured in runs.values()]
    write_section(options, rows, load_before, os.getloadavg())
    sys.exit(1 if failed else 0)


def median_row(measured: list[tuple[dict[str, object], LoadResult]]) -> dict[str, object]:
    """One configuration over its rounds: counts summed, the median rate, latencies pooled."""
    import statistics

    pooled = LoadResult(latencies=[t for _, result in measured for t in result.latencies])
    first = measured[0][0]
    stored = [row["stored"] for row, _ in measured]
    return first | {
        "summaries": sum(int(str(row["summaries"])) for row, _ in measured),
        "acknowledged": sum(int(str(row["acknowledged"])) for row, _ in measured),
        "stored": None if None in stored else sum(int(str(n)) for n in stored),
        "per_second": statistics.median(float(str(row["per_second"])) for row, _ in measured),
        "p50": pooled.percentile(0.50) * 1000,
        "p99": pooled.percentile(0.99) * 1000,
        "max": max(pooled.latencies, default=0) * 1000,
    }


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of fleet sizes such as 1,2,4")
    return sizes


def _hour(index: int) -> str:
    """Spread the summaries over the last day's hours, as a day of traffic would be."""
    stamp = time.gmtime(time.time() - 3600 * (index % 24))
    return time.strftime("%Y-%m-%dT%H", stamp)


def _databases(scratch: Path):
    import contextlib

    from tests.support.postgres import postgres_cluster, postgres_database

    @contextlib.contextmanager
    def sqlite():
        path = scratch / "beacon.db"
        for stale in scratch.glob("beacon.db*"):
            stale.unlink()
        yield f"sqlite:///{path}"

    @contextlib.contextmanager
    def postgres():
        with postgres_cluster(fsync=True) as server, postgres_database(server) as database:
            yield database

    return [("SQLite", sqlite), ("PostgreSQL", postgres)]


def measure_bare(bodies: list[bytes], clients: int) -> tuple[dict[str, object], LoadResult]:
    """The same load against bare_endpoint.py: the ceiling of one uvicorn process here."""
    import subprocess

    from tests.support import free_port, wait_for_http

    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_endpoint.py"), str(port)])
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        result = run_load(f"http://127.0.0.1:{port}/", bodies, clients)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"  {len(result.acknowledged) / result.seconds:,.0f} summaries/s")
    return _row("bare endpoint", "parse and answer 202", bodies, clients, result, None), result


def measure(
    backend: str,
    bundle: Path,
    db: str,
    bodies: list[bytes],
    clients: int,
    release: str,
    extra: Sequence[str] = (),
) -> tuple[dict[str, object], LoadResult, bool]:
    from staticml.collector.stores import open_store
    from tests.support.beacon import beacon

    with beacon(bundle, db, "--rate-limit", str(10 * len(bodies)), *extra) as running:
        result = run_load(running.url, bodies, clients)
    store = open_store(db)
    try:
        stored = sum(t.summaries for t in store.read(release, "0000-01-01T00", "9999-12-31T23"))
    finally:
        store.close()
    acknowledged = len(result.acknowledged)
    ok = acknowledged == len(bodies) == stored
    print(f"  {acknowledged / result.seconds:,.0f} summaries/s; stored {stored}; ok: {ok}")
    return _row(backend, "", bodies, clients, result, stored), result, ok


def _row(
    backend: str,
    mode: str,
    bodies: list[bytes],
    clients: int,
    result: LoadResult,
    stored: int | None,
) -> dict[str, object]:
    acknowledged = len(result.acknowledged)
    return {
        "backend": backend,
        "mode": mode,
        "summaries": len(bodies),
        "clients": clients,
        "workers": 1,
        "acknowledged": acknowledged,
        "stored": stored,
        "per_second": acknowledged / result.seconds,
        "p50": result.percentile(0.50) * 1000,
        "p99": result.percentile(0.99) * 1000,
        "max": max(result.latencies, default=0) * 1000,
    }


def write_section(options, rows, load_before, load_after) -> None:
    lines = [
        SECTION,
        "",
        f"`.venv/bin/python bench/collector_load.py --summaries {options.summaries} "
        f"--clients {options.clients} --workers {','.join(map(str, options.workers))} "
        f"--rounds {options.rounds}` ({time.strftime('%Y-%m-%d')}): a real `staticml beacon` "
        "(uvicorn; *workers* collector processes) on 127.0.0.1, every summary a valid "
        "20-prediction summary of the synthetic wine data in tests/support/collector.py, sent "
        "once by concurrent keep-alive clients; the final count is read back from the database. "
        "SQLite: WAL, synchronous=FULL. PostgreSQL: a local cluster with fsync on. *Group "
        "commit* is the default (`--batch-max 256`): summaries that arrive while a commit runs "
        "share the next transaction; *one per summary* is `--batch-max 1`, a transaction and an "
        "fsync each. The bare endpoint (bench/bare_endpoint.py) is a Starlette route that only "
        "parses each summary's JSON and answers 202, served exactly as the collector is "
        "(`Collector.config`: uvicorn with the collector's guarded httptools protocol, no proxy "
        "headers, no access log): the ceiling of one process here. Every run is repeated "
        f"{options.rounds} time(s), each round running them all one after another; "
        "*summaries/s* is the median over the rounds (so each ratio is to the bare endpoint "
        "under the same shifting load), counts are summed and latencies pooled. With several "
        "workers (`--workers N`, PostgreSQL only) each is a process with its own database "
        "connections, all on one port (SO_REUSEPORT) and one database.",
        "",
        "| backend | commits | workers | summaries | clients | acknowledged | stored | "
        "summaries/s | × bare endpoint | p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ceiling = float(rows[0]["per_second"])
    for r in rows:
        stored = "–" if r["stored"] is None else f"{r['stored']:,}"
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['workers']} | {r['summaries']:,} | "
            f"{r['clients']} | "
            f"{r['acknowledged']:,} | {stored} | {r['per_second']:,.0f} | "
            f"{float(r['per_second']) / ceiling:.2f}× | {r['p50']:.1f} | {r['p99']:.1f} | "
            f"{r['max']:.1f} |"
        )
    lines += [
        "",
        f"Machine: {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}. Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{v:.2f}' for v in load_before)}; after: "
        f"{', '.join(f'{v:.2f}' for v in load_after)} (the machine is shared; the load "
        "generator runs on the same two cores as the collector and the database).",
        "",
    ]
    text = options.out.read_text() if options.out.exists() else ""
    start = text.find(SECTION)
    if start >= 0:
        end = text.find("\n# ", start + len(SECTION))
        text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    kept = text.rstrip("\n")
    options.out.write_text((kept + "\n\n" if kept else "") + "\n".join(lines))


if __name__ == "__main__":
    main()
