"""`staticml beacon --workers N`: several collector processes on one port and one PostgreSQL."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from bench.collector_load import run_load
from staticml.collector.postgres import CONNECTIONS
from staticml.collector.stores import open_store
from tests.support import free_port
from tests.support.beacon import beacon
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle
from tests.support.postgres import postgres_database

BEACON = [sys.executable, "-m", "staticml", "beacon"]
HOURS = [f"2026-11-29T{h:02d}" for h in range(24)]


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(tmp_path / "site", wine_baseline())


@pytest.fixture
def postgres_db(postgres_server) -> Iterator[str]:
    with postgres_database(postgres_server) as url:
        yield url


def workers_of(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children]


def connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as session:
        row = session.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_sqlite_refuses_more_than_one_worker_and_says_why(bundle, tmp_path):
    db = f"sqlite:///{tmp_path / 'b.db'}"
    completed = subprocess.run(
        [
            *BEACON,
            "--bundle",
            str(bundle),
            "--db",
            db,
            "--port",
            str(free_port()),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "--workers 2 needs PostgreSQL" in completed.stderr
    assert "one process write at a time" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "b.db").exists()  # refused before anything was opened


def test_a_fleet_stores_every_summary_once_through_a_few_connections_per_worker(
    bundle, postgres_db
):
    sent = [body(wine_summary(rows=20, seed=i, hour=HOURS[i % 24])) for i in range(600)]
    with beacon(bundle, postgres_db, "--workers", "3", "--rate-limit", "100000") as running:
        assert len(workers_of(running.process.pid)) == 3
        result = run_load(running.url, sent, clients=6)
        assert 3 <= connections(postgres_db) <= 3 * CONNECTIONS  # opened as batches overlap
    assert set(result.statuses.values()) == {202} and len(result.statuses) == len(sent)
    store = open_store(postgres_db)
    try:
        tallies = store.read(RELEASE, "0000-01-01T00", "9999-12-31T23")
    finally:
        store.close()
    assert sum(t.summaries for t in tallies) == len(sent)
    assert sum(t.n for t in tallies) == 20 * len(sent)


def test_the_rate_limit_is_per_worker_so_a_client_gets_up_to_n_times_it(bundle, postgres_db):
    # Each request on a new connection: the kernel hands each to one of the two workers (by a
    # hash of its addresses and ports), and each worker counts this client on its own.
    limit, tries = 5, 40
    summary = body(wine_summary(rows=20, hour=HOURS[0]))
    with beacon(bundle, postgres_db, "--workers", "2", "--rate-limit", str(limit)) as running:
        port = urlsplit(running.url).port
        statuses = []
        for _ in range(tries):
            connection = http.client.HTTPConnection("127.0.0.1", port)
            connection.request("POST", "/v1/summaries", body=summary)
            statuses.append(connection.getresponse().status)
            connection.close()
    assert set(statuses) == {202, 429}
    # One worker alone would accept `limit`; two accept up to twice as many (all 40 requests
    # landing on one worker has probability 2**-39).
    assert limit < statuses.count(202) <= 2 * limit


def test_a_worker_that_dies_stops_the_fleet_with_an_error(bundle, postgres_db):
    with beacon(bundle, postgres_db, "--workers", "2") as running:
        first, second = workers_of(running.process.pid)
        os.kill(first, signal.SIGKILL)
        running.process.wait(timeout=30)
        assert running.process.returncode == 1
        output = running.output()
    assert f"Collector worker 1 of 2 (pid {first}) was killed by signal 9" in output
    assert "the other workers were stopped" in output and "Traceback" not in output
    assert not Path(f"/proc/{second}").exists()


def test_sigterm_stops_every_worker(bundle, postgres_db):
    with beacon(bundle, postgres_db, "--workers", "2") as running:
        workers = workers_of(running.process.pid)
        running.process.terminate()
        running.process.wait(timeout=30)
        assert running.process.returncode == 0, running.output()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
