"""`staticml beacon`, the drift collector, as a real child process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support import free_port, wait_for_http


class Beacon:
    def __init__(self, url: str, process: subprocess.Popen, log) -> None:
        self.url, self.process, self._log = url, process, log

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()


@contextlib.contextmanager
def beacon(
    bundle: Path | None,
    db: str,
    *extra: str,
    port: int | None = None,
    max_files: int | None = None,
) -> Iterator[Beacon]:
    """`staticml beacon` in a child process (on `port`, else a free one), its output kept;
    with `max_files`, it may hold at most that many file descriptors (RLIMIT_NOFILE). Without
    a `bundle`, `extra` says what it accepts (`--site SITE`)."""
    port = port or free_port()
    command = [sys.executable, "-m", "staticml", "beacon"]
    command += [] if bundle is None else ["--bundle", str(bundle)]
    command += ["--db", db, "--port", str(port), *extra]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_file_limit(max_files)
        )
        running = Beacon(f"http://127.0.0.1:{port}/", process, log)
        try:
            try:
                wait_for_http(running.url + "healthz", process)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\ncollector output:\n{running.output()}") from exc
            yield running
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=10)


def _file_limit(files: int | None) -> Callable[[], None] | None:
    if files is None:
        return None

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    return limit
