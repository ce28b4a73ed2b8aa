"""Collector reports over months of data: `/v1/drift`, the dashboard and `/v1/rollout` timed
against ~10 million merged count rows, on SQLite and on PostgreSQL.

    .venv/bin/python bench/collector_reports.py                       # 180 releases x 90 days
    .venv/bin/python bench/collector_reports.py --releases 10 --days 30 --out /tmp/results.md

The rows are bulk-loaded synthetically, not through HTTP: for every hour of `--days` days up
to now, and every one of `--releases` releases (hour by hour, releases interleaved, as
summaries arrive), the cells of a merged wine summary (tests/support/collector.py: 31 cells,
the zero ones left out) into `staticml_counts`, a row per release and hour into
`staticml_hours`, and the feedback and shadow counts of a rollout into `staticml_rollout`.
SQLite gets one `executemany` transaction (and no ANALYZE: the collector runs none);
PostgreSQL (a throw-away cluster from tests/support/postgres.py, fsync off) gets `COPY` and then
`VACUUM ANALYZE`, as autovacuum would. Then a real `staticml beacon` with a bundle per release answers HTTP
requests on 127.0.0.1; the bench prints and writes the first (cold) time and the median of
`--requests` more, the query plans of the report queries, and its section of
`bench/results.md` (replacing only that section).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTION = "# Collector reports over months of data"
TEMPLATES = 24  # distinct merged summaries, one per hour of the day
ROWS_PER_HOUR = 400  # predictions merged per release and hour


def release_id(index: int) -> str:
    return f"{index * 2654435761 % 16**12:012x}"


def hours_back(days: int, now: datetime) -> list[str]:
    """The hours of the last `days` days, oldest first, ending with the current hour."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return [
        (end - timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(days * 24 - 1, -1, -1)
    ]


def templates() -> list[tuple[list[tuple[str, int, int]], int]]:
    """(variable, bin, count) cells and n of `TEMPLATES` merged wine summaries."""
    from tests.support.collector import wine_summary

    made = []
    for seed in range(TEMPLATES):
        summary = wine_summary(rows=ROWS_PER_HOUR, seed=seed, shift=0.3 * (seed % 3))
        parts = [(f"feature:{name}", part) for name, part in summary["features"].items()]
        parts.append(("output", summary["output"]))
        cells = []
        for variable, part in parts:
            values = [*enumerate(part["counts"]), (-1, part["missing"])]
            cells += [(variable, b, c) for b, c in values if c]
        made.append((cells, int(summary["n"])))
    return made


ROLLOUT_METRICS = ("feedback:right", "feedback:wrong", "shadow:S:n", "shadow:S:agree")


class Data:
    """The synthetic rows, generated on the fly in arrival order."""

    def __init__(self, releases: int, days: int, now: datetime) -> None:
        self.releases = [release_id(i) for i in range(releases)]
        self.hours = hours_back(days, now)
        self.templates = templates()

    def counts(self) -> Iterator[tuple[str, str, str, int, int]]:
        for h, hour in enumerate(self.hours):
            cells = self.templates[h % TEMPLATES][0]
            for release in self.releases:
                for variable, bin_, count in cells:
                    yield release, hour, variable, bin_, count

    def hour_rows(self) -> Iterator[tuple[str, str, int, int, int]]:
        for h, hour in enumerate(self.hours):
            n = self.templates[h % TEMPLATES][1]
            for release in self.releases:
                yield release, hour, n, n // 20, 0

    def rollout(self) -> Iterator[tuple[str, str, str, int]]:
        rng = random.Random(1)
        for hour in self.hours:
            for release in self.releases:
                for metric in ROLLOUT_METRICS:
                    yield release, hour, metric.replace("S", self.releases[0]), rng.randint(1, 50)

    def seen(self) -> Iterator[tuple[str, str]]:
        """Ids of the summaries of the last 8 days (older ones are forgotten), 5 an hour."""
        for h, hour in enumerate(self.hours[-8 * 24 :]):
            for r in range(len(self.releases)):
                for i in range(5):
                    yield f"{h:04d}{r:05d}{i}", hour

    @property
    def count_rows(self) -> int:
        return sum(len(self.templates[h % TEMPLATES][0]) for h in range(len(self.hours))) * len(
            self.releases
        )


# --- loading --------------------------------------------------------------------------------


def load_sqlite(path: Path, data: Data) -> None:
    from staticml.collector.stores import open_store

    open_store(f"sqlite:///{path}").close()  # the collector's schema, indexes included
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("BEGIN")
    db.executemany("INSERT INTO staticml_counts VALUES (?, ?, ?, ?, ?)", data.counts())
    db.executemany("INSERT INTO staticml_hours VALUES (?, ?, ?, ?, ?)", data.hour_rows())
    db.executemany("INSERT INTO staticml_rollout VALUES (?, ?, ?, ?)", data.rollout())
    db.executemany("INSERT INTO staticml_seen VALUES (?, ?)", data.seen())
    db.execute("COMMIT")
    db.close()


def load_postgres(url: str, data: Data) -> None:
    import psycopg

    from staticml.collector.stores import open_store

    open_store(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        with db.transaction(), db.cursor() as cursor:
            for table, rows in (
                ("staticml_counts", data.counts()),
                ("staticml_hours", data.hour_rows()),
                ("staticml_rollout", data.rollout()),
                ("staticml_seen", data.seen()),
            ):
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        db.execute("VACUUM ANALYZE")


# --- plans ----------------------------------------------------------------------------------


def plan_queries(release: str, hours: Sequence[str]) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(name, SQL with ? placeholders, parameters) of the queries the reports run."""
    from staticml.collector import storage

    week = hours[max(0, len(hours) - 7 * 24)]
    end = hours[-1][:-2] + "99"  # after the current hour
    return [
        ("counts of one release, 7 days", storage.SUM_COUNTS, (release, week, end)),
        ("hours of one release, 7 days", storage.SUM_HOURS, (release, week, end)),
        ("rollout of every release, 7 days", storage.READ_ROLLOUT, (week, end)),
        ("forget summary ids older than 7 days", storage.FORGET_SEEN, (week,)),
    ]


def sqlite_plans(path: Path, queries) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    plans = []
    for name, sql, params in queries:
        rows = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        plans.append((name, "\n".join(str(row[-1]) for row in rows)))
    db.close()
    return plans


def postgres_plans(url: str, queries) -> list[tuple[str, str]]:
    import psycopg

    plans = []
    with psycopg.connect(url) as db:
        for name, sql, params in queries:
            rows = db.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql.replace("?", "%s"), params
            ).fetchall()
            plans.append((name, "\n".join(row[0] for row in rows)))
            db.rollback()  # the DELETE's plan is analysed, not kept
    return plans


# --- timing ---------------------------------------------------------------------------------


def timed_get(url: str, path: str) -> tuple[float, int, int]:
    """Seconds, status and body size of one GET on a new connection."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, response.status, len(body)


def time_requests(
    url: str, paths: Sequence[tuple[str, str]], repeats: int
) -> tuple[float, list[dict[str, Any]]]:
    """The warm-up request's time (the process's first report imports scipy), then per path
    the first time, the median and the max of `repeats` more."""
    warm_up, status, _ = timed_get(url, "/v1/drift?window=1h")
    print(f"  warm-up (the report's first import of scipy): {warm_up * 1000:.0f} ms, {status}")
    results = []
    for name, path in paths:
        first, status, size = timed_get(url, path)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
        rest = [timed_get(url, path)[0] for _ in range(repeats)]
        results.append(
            {
                "request": name,
                "path": path,
                "first": first,
                "median": statistics.median(rest),
                "max": max(rest),
                "bytes": size,
            }
        )
        print(
            f"  {name}: first {first * 1000:.0f} ms, median {statistics.median(rest) * 1000:.0f} ms"
        )
    return warm_up, results


def compare_sums(url: str, release: str, repeats: int) -> dict[str, float]:
    """The dashboard's twelve 7-day windows of `release` read two ways, in this process: every
    hourly row into Python, summed there (what the reports did before `read_totals`), and
    summed by the database. Medians in seconds; the two must agree."""
    from staticml.collector.report import current_end, hour_label
    from staticml.collector.storage import total_of
    from staticml.collector.stores import open_store

    end = current_end(datetime.now(UTC))
    week = timedelta(days=7)
    spans = [(hour_label(end - week * (i + 1)), hour_label(end - week * i)) for i in range(12)]
    store = open_store(url)
    try:
        in_python, in_database = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            hourly = store.read(release, spans[-1][0], spans[0][1])
            summed = [total_of(hourly, *span) for span in spans]
            in_python.append(time.perf_counter() - started)
            started = time.perf_counter()
            totals = store.read_totals(release, spans)
            in_database.append(time.perf_counter() - started)
            if summed != totals:
                raise SystemExit("the database's sums differ from the hourly rows' sums")
    finally:
        store.close()
    medians = {"python": statistics.median(in_python), "database": statistics.median(in_database)}
    print(
        f"  84 days summed in Python {medians['python'] * 1000:.0f} ms, by the database "
        f"{medians['database'] * 1000:.0f} ms"
    )
    return medians


def request_paths(release: str) -> list[tuple[str, str]]:
    return [
        ("`/v1/drift`, one release, 7 days", f"/v1/drift?release={release}&window=7d"),
        ("`/v1/drift`, one release, 24 hours", f"/v1/drift?release={release}&window=24h"),
        ("dashboard, 24-hour windows (12 days of history)", f"/?release={release}&window=24h"),
        ("dashboard, 7-day windows (84 days of history)", f"/?release={release}&window=7d"),
        ("`/v1/rollout`, every release, 7 days", "/v1/rollout?window=7d"),
    ]


# --- the benchmark --------------------------------------------------------------------------


def bundles(scratch: Path, releases: Sequence[str]) -> list[str]:
    from tests.support.collector import wine_baseline, write_bundle

    arguments = []
    for release in releases:
        site = write_bundle(scratch / "sites" / release, wine_baseline(), release)
        arguments += ["--bundle", str(site)]
    return arguments


@contextlib.contextmanager
def backends(scratch: Path, chosen: Sequence[str]) -> Iterator[list[tuple[str, Callable]]]:
    from tests.support.postgres import postgres_cluster, postgres_database

    @contextlib.contextmanager
    def sqlite_db() -> Iterator[tuple[str, Any]]:
        path = scratch / "reports.db"
        yield f"sqlite:///{path}", path

    @contextlib.contextmanager
    def postgres_db() -> Iterator[tuple[str, Any]]:
        with postgres_cluster(fsync=False) as server, postgres_database(server) as database:
            yield database, database

    found = {"sqlite": ("SQLite", sqlite_db), "postgres": ("PostgreSQL", postgres_db)}
    yield [found[name] for name in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=180)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=9, help="timed requests after the first")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgres"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.beacon import beacon

    chosen = options.backend or ["sqlite", "postgres"]
    data = Data(options.releases, options.days, datetime.now(UTC))
    release = data.releases[0]
    print(f"{data.count_rows:,} count rows: {options.releases} releases x {options.days} days")
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="staticml-reports-") as name:
        scratch = Path(name)
        sites = bundles(scratch, data.releases)
        with backends(scratch, chosen) as found:
            for backend, database in found:
                with database() as (url, target):
                    print(f"{backend}: loading")
                    started = time.perf_counter()
                    if backend == "SQLite":
                        load_sqlite(target, data)
                    else:
                        load_postgres(target, data)
                    loading = time.perf_counter() - started
                    print(f"  loaded in {loading:.0f} s")
                    queries = plan_queries(release, data.hours)
                    plans = (
                        sqlite_plans(target, queries)
                        if backend == "SQLite"
                        else (postgres_plans(target, queries))
                    )
                    for query, plan in plans:
                        print(f"  plan, {query}:\n    " + plan.replace("\n", "\n    "))
                    sums = compare_sums(url, release, options.requests)
                    with beacon(Path(sites[1]), url, *sites[2:]) as running:
                        warm_up, times = time_requests(
                            running.url, request_paths(release), options.requests
                        )
                    results.append(
                        {
                            "backend": backend,
                            "loading": loading,
                            "warm_up": warm_up,
                            "sums": sums,
                            "times": times,
                            "plans": plans,
                        }
                    )
    write(options, data, results, load_before, os.getloadavg())


def write(options, data: Data, results, load_before, load_after) -> None:
    lines = [
        SECTION,
        "",
        f"`.venv/bin/python bench/collector_reports.py --releases {options.releases} --days "
        f"{options.days} --requests {options.requests}` ({time.strftime('%Y-%m-%d')}): "
        f"**{data.count_rows:,} rows** in `staticml_counts` ({options.releases} releases × "
        f"{options.days} days × 24 hours × the non-zero cells of a merged wine summary), "
        f"{len(data.releases) * len(data.hours):,} in `staticml_hours` and "
        f"{len(data.releases) * len(data.hours) * len(ROLLOUT_METRICS):,} in `staticml_rollout`, "
        "bulk-loaded hour by hour with the releases interleaved (as summaries arrive). Each "
        "request is a GET to a real `staticml beacon` (one process, a bundle per release) on "
        "127.0.0.1, on a new connection; *first* is the first request after loading, *median* "
        f"and *max* are over the {options.requests} that follow. SQLite: WAL, one "
        "`executemany` transaction, no ANALYZE (the collector runs none). PostgreSQL: a local "
        "cluster (fsync off), `COPY`, then `VACUUM ANALYZE` (what autovacuum does).",
        "",
        "| backend | loading s | request | first ms | median ms | max ms | reply bytes |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for t in result["times"]:
            lines.append(
                f"| {result['backend']} | {result['loading']:.0f} | {t['request']} | "
                f"{t['first'] * 1000:.0f} | {t['median'] * 1000:.0f} | {t['max'] * 1000:.0f} | "
                f"{t['bytes']:,} |"
            )
    warm = ", ".join(f"{r['backend']} {r['warm_up'] * 1000:,.0f} ms" for r in results)
    lines += [
        "",
        "Before these, one `/v1/drift?window=1h` request warms the process up: a collector's "
        f"first report imports scipy (for the chi-square test), once per process ({warm}).",
        "",
        "The dashboard's twelve 7-day windows (84 days of one release), read in the bench's "
        "own process: every hourly row fetched and summed in Python (how the reports read "
        "before `Store.read_totals`) against the sums made by the database (median of "
        f"{options.requests}): "
        + "; ".join(
            f"{r['backend']} {r['sums']['python'] * 1000:,.0f} ms against "
            f"{r['sums']['database'] * 1000:,.0f} ms"
            for r in results
        )
        + ".",
        "",
        "The query plans (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN (ANALYZE, "
        "BUFFERS)`) are in [docs/collector.md](../docs/collector.md#reports-over-months-of-data).",
        "",
        f"Machine: {os.cpu_count()} cores, Linux {platform.release()}, Python "
        f"{platform.python_version()}. Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{v:.2f}' for v in load_before)}; after: "
        f"{', '.join(f'{v:.2f}' for v in load_after)} (the machine is shared with other jobs).",
        "",
    ]
    from sections import replace_heading

    replace_heading(options.out, SECTION, "\n".join(lines))


if __name__ == "__main__":
    main()
