"""`staticml beacon --workers N`: N collector processes on one port, one PostgreSQL database.

The parent checks everything first (bundles, database, tables, baselines), so a mistake is
reported once, reserves the port, then forks the workers. Each worker prepares its collector
again and opens its own store (one database connection) and serves
on its own listening socket bound with SO_REUSEPORT, so the kernel spreads new connections
over the workers rather than letting the fastest one accept them all. Every worker runs the
same guarded uvicorn as a single collector (`Collector.serve_socket`).

A worker that exits on its own stops the fleet: the others are stopped and `serve_fleet`
raises, so a supervisor (systemd's `Restart=on-failure`) starts the whole fleet again rather
than a fleet silently running short. SIGTERM or SIGINT to the parent stops every worker
gracefully. Each worker keeps its own rate-limit buckets (staticml/collector/ratelimit.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from staticml.errors import CollectorError, StaticMLError

if TYPE_CHECKING:
    from staticml.collector.service import Collector


def check_workers(db: str, workers: int) -> None:
    """Refuse a fleet the database cannot serve: SQLite has one writer at a time."""
    if workers < 1:
        raise CollectorError(f"--workers is {workers}; give 1 or more.")
    if workers > 1 and urlsplit(db).scheme == "sqlite":
        raise CollectorError(
            f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a time, so "
            "more collector processes on one SQLite file only wait on each other. Use "
            "--workers 1 with SQLite, or --db postgresql://USER@HOST/DATABASE."
        )
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise CollectorError(
            "--workers needs SO_REUSEPORT, which this system lacks: run one collector per port "
            "behind a load balancer instead."
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` that other sockets of this user may bind too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CollectorError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Stop what uses the port, or give "
            "another --port."
        ) from None
    return sock


def serve_fleet(prepare: Callable[[], Collector], host: str, port: int, workers: int) -> None:
    """Run `workers` collectors made by `prepare` (called in each worker) on `host:port` until
    SIGTERM or SIGINT; raise CollectorError if a worker exits on its own."""
    # Held, never listened on: it keeps the port from other users' sockets while the fleet runs.
    reserved = listening_socket(host, port)
    port = reserved.getsockname()[1]  # the one the kernel chose for --port 0, for every worker
    children: dict[int, int] = {}
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    failure = ""
    sys.stdout.flush()  # else each worker would inherit, and never write, what is buffered
    sys.stderr.flush()
    try:
        for index in range(workers):
            children[_fork_worker(prepare, host, port, reserved)] = index
        while children:
            pid, status = os.wait()
            index = children.pop(pid)
            if not stopping:
                failure = f"Collector worker {index + 1} of {workers} (pid {pid}) {_ended(status)}"
                stop(signal.SIGTERM, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        reserved.close()
    if failure:
        raise CollectorError(
            f"{failure}; the other workers were stopped. Its error is above; fix it and start "
            "the collector again (a supervisor such as systemd restarts it by itself)."
        )


def _fork_worker(
    prepare: Callable[[], Collector], host: str, port: int, reserved: socket.socket
) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        reserved.close()
        collector = prepare()
        collector.serve_socket(listening_socket(host, port))
        status = 0
    except StaticMLError as error:
        print(f"Error: {error}", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(status)


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
