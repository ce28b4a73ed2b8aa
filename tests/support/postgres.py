"""A throw-away PostgreSQL cluster (crashed and restarted on demand), databases on it, and a
database taken down and back."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: as root, run PostgreSQL's tools as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    """A PostgreSQL cluster of its own: its admin URL, and a crash and restart on demand."""

    def __init__(self, bindir: Path, root: Path, fsync: bool) -> None:
        self.data, self.port = root / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._options = (
            f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 "
            f"-c fsync={'on' if fsync else 'off'}"
        )
        self._pg_ctl = [str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(root / "log")]

    def start(self) -> None:
        """Start the server (after a crash: it replays its write-ahead log first)."""
        subprocess.run(
            _as_postgres([*self._pg_ctl, "-w", "-o", self._options, "start"]),
            check=True,
            capture_output=True,
        )

    def crash(self) -> None:
        """Stop the server as a crash would: every server process quits at once, with no
        checkpoint and no goodbye to its clients (`pg_ctl stop -m immediate`)."""
        subprocess.run(
            _as_postgres([*self._pg_ctl, "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def running_cluster(fsync: bool) -> Iterator[Cluster]:
    """A PostgreSQL cluster of its own in a temporary folder, running; removed afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL not found in /usr/lib/postgresql: run ./dev test, which installs it"
        )
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="staticml-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    cluster = Cluster(bindir, root, fsync)
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(cluster.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.crash()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster(fsync: bool) -> Iterator[str]:
    """A PostgreSQL cluster of its own in a temporary folder; yields its admin URL."""
    with running_cluster(fsync) as cluster:
        yield cluster.url


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the test cluster, dropped afterwards."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextlib.contextmanager
def database_down(server_url: str, database_url: str) -> Iterator[None]:
    """The database of `database_url` is unreachable (its sessions ended, its name changed)
    inside the block, and back afterwards, on the same cluster."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        admin.execute(f"ALTER DATABASE {name} RENAME TO {name}_down")
    try:
        yield
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name}_down RENAME TO {name}")
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
