"""A real `staticml beacon` under concurrent load, and killed in the middle of it.

The load is bounded (a fixed number of summaries from several clients; it stops by itself),
small enough for every run of the suite; `bench/collector_load.py` runs the same with more
summaries and records the figures in bench/results.md.
"""

from __future__ import annotations

import itertools
import signal
import threading
from pathlib import Path

import pytest

from bench.collector_load import LoadResult, run_load
from staticml.collector.storage import HourTally, summary_rows
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from tests.support.beacon import beacon
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle

ROWS = 20  # predictions per summary
BASELINES = {RELEASE: wine_baseline()}


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(tmp_path / "site", wine_baseline())


def bodies(count: int) -> list[bytes]:
    return [
        body(wine_summary(rows=ROWS, seed=i, hour=f"2026-11-29T{i % 24:02d}")) for i in range(count)
    ]


def tallies(db: str) -> list[HourTally]:
    store = open_store(db)
    try:
        return store.read(RELEASE, "0000-01-01T00", "9999-12-31T23")
    finally:
        store.close()


def cells(tallied: list[HourTally]) -> dict[tuple[str, str, int], int]:
    return {(t.hour, v, b): c for t in tallied for (v, b), c in t.cells.items()}


def merged(sent: list[bytes]) -> dict[tuple[str, str, int], int]:
    """The cells the database must hold after exactly these summaries."""
    total: dict[tuple[str, str, int], int] = {}
    for data in sent:
        summary = parse_summary(data, BASELINES)
        for variable, bin_, count in summary_rows(summary):
            key = (summary.hour, variable, bin_)
            total[key] = total.get(key, 0) + count
    return total


def test_concurrent_clients_lose_nothing(bundle, db_url):
    sent = bodies(240)
    with beacon(bundle, db_url, "--rate-limit", "100000") as running:
        result = run_load(running.url, sent, clients=6)
    assert sorted(result.statuses) == list(range(len(sent)))
    assert set(result.statuses.values()) == {202}
    stored = tallies(db_url)
    assert sum(t.summaries for t in stored) == len(sent)
    assert sum(t.n for t in stored) == ROWS * len(sent)
    assert cells(stored) == merged(sent)


def test_a_collector_killed_under_load_keeps_every_acknowledged_summary(bundle, db_url):
    sent = bodies(3000)
    with beacon(bundle, db_url, "--rate-limit", "100000") as running:
        enough = threading.Event()

        def watch(result: LoadResult) -> None:
            if len(result.statuses) >= 150:
                enough.set()

        killer = threading.Thread(
            target=lambda: enough.wait(120) and running.process.send_signal(signal.SIGKILL)
        )
        killer.start()
        result = run_load(running.url, sent, clients=4, on_answer=watch)
        killer.join()
        running.process.wait(timeout=10)
    assert running.process.returncode == -signal.SIGKILL
    acknowledged = result.acknowledged
    assert 150 <= len(acknowledged) < len(sent), "the kill must land in the middle of the load"
    with beacon(bundle, db_url) as restarted:  # the database opens again after the kill
        assert restarted.process.poll() is None
    stored = tallies(db_url)
    summaries = sum(t.summaries for t in stored)
    # Every acknowledged summary is there; at most the few in flight at the kill were also
    # committed (their answer was lost), and each summary is there whole or not at all.
    assert len(acknowledged) <= summaries <= len(acknowledged) + 4
    assert sum(t.n for t in stored) == ROWS * summaries
    for tally in stored:
        for variable in {v for v, _ in tally.cells}:
            assert sum(c for (v, _), c in tally.cells.items() if v == variable) == tally.n
    in_flight = [i for i, status in result.statuses.items() if status != 202]
    for candidate in _subsets(in_flight, summaries - len(acknowledged)):
        if cells(stored) == merged([sent[i] for i in acknowledged + candidate]):
            break
    else:
        pytest.fail("the stored counts are not the acknowledged summaries (plus in-flight ones)")


def _subsets(items: list[int], size: int) -> list[list[int]]:
    return [list(c) for c in itertools.combinations(items, size)]
