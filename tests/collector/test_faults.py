"""The collector when its database fails: unreachable, full, or read-only.

Unreachable (PostgreSQL gone): 503 with Retry-After, and summaries are accepted again once it
is back. PostgreSQL crashed under load (every server process quitting at once, mid-batch) and
restarted: nothing acknowledged is lost, and the pages' repeats (by id) store nothing twice. Full disk and read-only filesystem (a real tmpfs of 1 MiB, mounted here, so these
tests need root): 503 with a message saying what to do, nothing
half-written, and a collector that cannot start on a read-only database says why. (A
filesystem cannot be remounted read-only under a collector that has the database open for
writing, so read-only is tested at start.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.ratelimit import RateLimiter
from staticml.collector.storage import Store, summary_rows
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from staticml.errors import CollectorError
from tests.support import free_port
from tests.support.beacon import beacon
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle
from tests.support.postgres import database_down, postgres_database, running_cluster

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
BEACON = [sys.executable, "-m", "staticml", "beacon"]


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(tmp_path / "site", wine_baseline())


def post(url: str, data: bytes) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(
        url + "v1/summaries", data=data, headers={"Content-Type": "text/plain"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


def hour(index: int) -> str:
    return (NOW - timedelta(hours=index)).strftime("%Y-%m-%dT%H")


def test_an_unreachable_database_is_503_with_retry_after_then_recovers(bundle, postgres_server):
    with postgres_database(postgres_server) as url, beacon(bundle, url) as running:
        assert post(running.url, body(wine_summary(hour=hour(0))))[0] == 202
        with database_down(postgres_server, url):
            status, headers, text = post(running.url, body(wine_summary(hour=hour(0))))
            assert status == 503, text
            assert int(headers["retry-after"]) > 0
            assert "send it again" in text
            user, host = urlsplit(url).username or "", urlsplit(url).hostname or ""
            assert "postgres" not in text.lower() and user not in text and host not in text
            assert "PostgreSQL" in running.output()  # the detail is in the log only
        status, _, _ = post(running.url, body(wine_summary(hour=hour(0))))
        assert status == 202
        store = open_store(url)
        try:
            summaries = sum(t.summaries for t in store.read(RELEASE, hour(1), hour(-1)))
        finally:
            store.close()
    assert summaries == 2


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that fills up and can be remounted read-only."""
    if os.geteuid() != 0:
        pytest.fail("These tests mount a small tmpfs, which needs root: run them as root.")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True)


@contextlib.contextmanager
def collector(store: Store) -> Iterator[TestClient]:
    app = create_collector_app(
        {RELEASE: wine_baseline()}, store, clock=lambda: NOW, limiter=RateLimiter(10**9)
    )
    with TestClient(app) as client:
        yield client


def send(client: TestClient, index: int):
    return client.post(
        "/v1/summaries",
        content=body(wine_summary(rows=20, seed=index, hour=hour(index % 2000))),
        headers={"Content-Type": "text/plain"},
    )


def assert_whole(store: Store, accepted: int) -> None:
    """Exactly `accepted` summaries stored, each whole: every variable's counts add up to n."""
    tallies = store.read(RELEASE, "0000-01-01T00", "9999-12-31T23")
    assert sum(t.summaries for t in tallies) == accepted
    assert sum(t.n for t in tallies) == 20 * accepted
    for tally in tallies:
        for variable in {v for v, _ in tally.cells}:
            assert sum(c for (v, _), c in tally.cells.items() if v == variable) == tally.n


def test_a_full_disk_is_503_saying_so_in_the_log_with_nothing_half_written(small_disk, caplog):
    caplog.set_level(logging.ERROR, logger="staticml.collector")
    store = open_store(f"sqlite:///{small_disk / 'beacon.db'}")
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * (free - 128 * 1024))
    try:
        with collector(store) as client:
            accepted = 0
            for index in range(5000):
                response = send(client, index)
                if response.status_code != 202:
                    break
                accepted += 1
            assert response.status_code == 503, response.text
            assert "send it again" in response.json()["error"]
            assert str(small_disk) not in response.text and "full" not in response.text
            assert "full" in caplog.text and "free space" in caplog.text
            assert str(small_disk / "beacon.db") in caplog.text
            assert int(response.headers["retry-after"]) > 0
            assert accepted > 0
            assert_whole(store, accepted)
            filler.unlink()
            assert send(client, index).status_code == 202  # space again: accepted again
            assert_whole(store, accepted + 1)
    finally:
        store.close()


def test_a_collector_cannot_start_on_a_read_only_database_and_says_why(small_disk, bundle):
    url = f"sqlite:///{small_disk / 'beacon.db'}"
    open_store(url).close()
    remount(small_disk, "ro")
    try:
        with pytest.raises(CollectorError, match="writable"):
            open_store(url)
        completed = subprocess.run(
            [*BEACON, "--bundle", str(bundle), "--db", url, "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        remount(small_disk, "rw")
    assert completed.returncode != 0
    assert "beacon.db" in completed.stderr and "writable" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_the_collector_reads_back_what_it_kept_after_the_disk_filled(small_disk):
    # The same database, opened again by a new collector process, holds the same counts.
    url = f"sqlite:///{small_disk / 'beacon.db'}"
    store = open_store(url)
    with collector(store) as client:
        for index in range(3):
            assert send(client, index).status_code == 202
    store.close()
    again = open_store(url)
    try:
        assert_whole(again, 3)
    finally:
        again.close()


class Pages:
    """Clients that send summaries as pages do: each with an id, sent again after a 503 or a
    lost connection until a 202 comes back. Records every answer."""

    def __init__(self, url: str, summaries: list[bytes], clients: int) -> None:
        self.url, self.summaries, self.clients = urlsplit(url), summaries, clients
        self.acknowledged: list[int] = []  # summary indexes, in the order of their 202
        self.refused = 0  # answers 503, or connections lost
        self.unexpected: list[int] = []  # any other status
        self.lock = threading.Lock()
        self.acks = threading.Condition(self.lock)

    def run(self) -> None:
        indexes = list(range(len(self.summaries)))
        threads = [
            threading.Thread(target=self._client, args=(indexes[k :: self.clients],))
            for k in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def wait_for(self, acknowledged: int) -> int:
        with self.acks:
            self.acks.wait_for(lambda: len(self.acknowledged) >= acknowledged, timeout=120)
            return len(self.acknowledged)

    def _client(self, mine: list[int]) -> None:
        connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)
        deadline = time.monotonic() + 300  # a hung collector fails the test rather than hang
        for index in mine:
            while time.monotonic() < deadline:
                try:
                    connection.request("POST", "/v1/summaries", body=self.summaries[index])
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    connection.close()
                    status = 0
                with self.lock:
                    if status == 202:
                        self.acknowledged.append(index)
                        self.acks.notify_all()
                        break
                    if status not in (0, 503):
                        self.unexpected.append(status)
                        return
                    self.refused += 1
                time.sleep(0.05)
        connection.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_postgresql_killed_mid_batch_loses_no_acknowledged_summary_and_stores_none_twice(
    bundle, workers
):
    # A cluster of its own, with fsync on: this test crashes the server and relies on what it
    # acknowledged being durable.
    summaries = [
        body(wine_summary(rows=20, seed=i, hour=hour(i % 24)) | {"id": uuid.uuid4().hex})
        for i in range(1200)
    ]
    ids = [json.loads(data)["id"] for data in summaries]
    with running_cluster(fsync=True) as cluster, postgres_database(cluster.url) as url:
        flags = ("--rate-limit", "1000000", "--workers", str(workers))
        with beacon(bundle, url, *flags) as running:
            pages = Pages(running.url, summaries, clients=6)
            load = threading.Thread(target=pages.run)
            load.start()
            pages.wait_for(200)
            cluster.crash()  # every server process quits at once, batches in flight with them
            with pages.lock:
                at_crash = list(pages.acknowledged)
            while pages.refused == 0 and load.is_alive():
                time.sleep(0.05)
            cluster.start()
            load.join()
            # Pages that never read a reply (sendBeacon) send again what was committed before
            # the crash: the ids merged then must have survived it with the counts.
            repeats = Pages(running.url, [summaries[i] for i in at_crash], clients=6)
            repeats.run()
            log = running.output()
        with psycopg.connect(url) as session:
            stored_ids = [row[0] for row in session.execute("SELECT id FROM staticml_seen")]
        store = open_store(url)
        try:
            tallies = store.read(RELEASE, "0000-01-01T00", "9999-12-31T23")
        finally:
            store.close()
    assert 200 <= len(at_crash) < len(summaries), "the crash must land mid-load"
    assert pages.refused > 0 and "PostgreSQL" in log and "failed" in log
    assert pages.unexpected == [] and repeats.unexpected == []
    assert sorted(pages.acknowledged) == list(range(len(summaries)))  # all sent again until 202
    assert len(repeats.acknowledged) == len(at_crash)
    # Nothing acknowledged before the crash was lost, and nothing is stored twice: every id
    # once, and the counts exactly those of each summary merged once.
    assert set(ids[i] for i in at_crash) <= set(stored_ids)
    assert sorted(stored_ids) == sorted(ids)
    assert sum(t.summaries for t in tallies) == len(summaries)
    assert sum(t.n for t in tallies) == 20 * len(summaries)
    assert cells(tallies) == merged(summaries)


def cells(tallies) -> dict[tuple[str, str, int], int]:
    return {(t.hour, v, b): c for t in tallies for (v, b), c in t.cells.items()}


def merged(sent: list[bytes]) -> dict[tuple[str, str, int], int]:
    """The cells the database holds after each of these summaries is merged exactly once."""
    total: dict[tuple[str, str, int], int] = {}
    for data in sent:
        summary = parse_summary(data, {RELEASE: wine_baseline()})
        for variable, bin_, count in summary_rows(summary):
            key = (summary.hour, variable, bin_)
            total[key] = total.get(key, 0) + count
    return total
