"""A real `staticml beacon` on 127.0.0.1 against forged X-Forwarded-For and slow or idle clients.

uvicorn alone believes X-Forwarded-For from 127.0.0.1 (so anyone local names themselves
anything) and keeps any connection as long as the client likes; the collector reads the
header only from --trusted-proxy and bounds connections, header time and body time.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import get_json
from tests.support.beacon import beacon
from tests.support.collector import body, wine_baseline, wine_summary, write_bundle

SLOW_CLIENTS = 100
MAX_CONNECTIONS = 16
WAIT = 20.0  # seconds a client waits at most for the collector (a bound, not a measure)


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(tmp_path / "site", wine_baseline())


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'beacon.db'}"


def send(url: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        url + "v1/summaries",
        data=body(wine_summary()),
        headers={"Content-Type": "text/plain", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_a_forged_x_forwarded_for_does_not_escape_the_rate_limit(bundle, db):
    with beacon(bundle, db, "--rate-limit", "5") as running:
        statuses = [send(running.url, f"203.0.113.{i}") for i in range(8)]
    assert statuses == [202] * 5 + [429] * 3


def test_x_forwarded_for_is_read_from_a_trusted_proxy(bundle, db):
    with beacon(bundle, db, "--rate-limit", "5", "--trusted-proxy", "127.0.0.1") as running:
        distinct = [send(running.url, f"203.0.113.{i}") for i in range(8)]
        same = [send(running.url, "198.51.100.1") for _ in range(6)]
    assert distinct == [202] * 8  # each forwarded address is its own client
    assert same == [202] * 5 + [429]


def test_a_trusted_proxy_that_is_not_an_address_is_refused(bundle, db):
    command = [sys.executable, "-m", "staticml", "beacon", "--bundle", str(bundle), "--db", db]
    completed = subprocess.run(
        [*command, "--trusted-proxy", "proxy.example"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    assert "--trusted-proxy 'proxy.example'" in completed.stderr
    assert "Traceback" not in completed.stderr


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return host, int(port)


@contextlib.contextmanager
def slow_clients(url: str, count: int, sent: bytes) -> Iterator[list[socket.socket]]:
    """`count` connections that each sent `sent` (a request begun, never finished)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(address(url), timeout=WAIT)
            sock.sendall(sent)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def closed_by_the_server(sockets: list[socket.socket], wanted: int) -> int:
    """How many of `sockets` the server closed, waiting (at most WAIT without news) for `wanted`."""
    open_, closed = list(sockets), 0
    while open_ and closed < wanted:
        readable, _, _ = select.select(open_, [], [], WAIT)
        if not readable:
            break
        for sock in readable:
            with contextlib.suppress(ConnectionError):
                if sock.recv(4096):
                    continue  # an answer (e.g. 400) arrives before the close
            closed += 1
            open_.remove(sock)
    return closed


def test_a_connection_that_never_finishes_its_headers_is_closed(bundle, db):
    with (
        beacon(bundle, db, "--header-timeout", "0.5") as running,
        slow_clients(running.url, 3, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") as sockets,
    ):
        assert closed_by_the_server(sockets, 3) == 3
        assert get_json(running.url + "healthz")["status"] == "ok"


def test_idle_connections_cannot_starve_health_checks(bundle, db):
    # The collector may hold 64 file descriptors, fewer than the slow clients: without a bound
    # on connections, they would take them all and /healthz would never be accepted.
    options = ("--max-connections", str(MAX_CONNECTIONS), "--header-timeout", "60")
    with (
        beacon(bundle, db, *options, max_files=64) as running,
        slow_clients(running.url, SLOW_CLIENTS, b"GET /heal") as sockets,
    ):
        assert get_json(running.url + "healthz")["status"] == "ok"
        evicted = SLOW_CLIENTS - MAX_CONNECTIONS
        assert closed_by_the_server(sockets, evicted) >= evicted


def test_a_body_that_stops_arriving_is_answered_408(bundle, db):
    head = (
        b"POST /v1/summaries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b'Content-Length: 1000\r\n\r\n{"v": 1'
    )
    with (
        beacon(bundle, db, "--body-timeout", "0.5") as running,
        slow_clients(running.url, 1, head) as [sock],
    ):
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive" in reply
