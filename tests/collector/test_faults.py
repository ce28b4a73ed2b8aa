"""The collector when its database fails: unreachable, full, or read-only.

Unreachable (PostgreSQL gone): 503 with Retry-After, and summaries are accepted again once it
is back. Full disk and read-only filesystem (a real tmpfs of 1 MiB, mounted here, so these
tests need root): 503 with a message saying what to do, nothing
half-written, and a collector that cannot start on a read-only database says why. (A
filesystem cannot be remounted read-only under a collector that has the database open for
writing, so read-only is tested at start.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.ratelimit import RateLimiter
from staticml.collector.storage import Store
from staticml.collector.stores import open_store
from staticml.errors import CollectorError
from tests.support import free_port
from tests.support.beacon import beacon
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle
from tests.support.postgres import database_down, postgres_database

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
