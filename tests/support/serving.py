"""`staticml serve` in a child process, and ASGI apps on a real uvicorn server in this one."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support import free_port, wait_for_http


@dataclass
class Server:
    url: str
    process: subprocess.Popen | None = None
    log: IO[str] | None = None

    def output(self) -> str:
        """What the server process printed so far (all of it once the process has ended)."""
        assert self.log is not None, "only a server in a subprocess keeps its output"
        self.log.seek(0)
        return self.log.read()


@contextlib.contextmanager
def serve_subprocess(site: Path, ready: str = "bundle.json") -> Iterator[Server]:
    """`staticml serve SITE` in a child process on a free port, its output kept for failures."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "staticml", "serve", str(site), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_http(url + ready, process)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}\nserver output:\n{log.read()}") from exc
            yield Server(url, process, log)
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app, ready: str = "bundle.json", port: int | None = None) -> Iterator[Server]:
    """An ASGI app on a real uvicorn server in this process (for deliberately odd servers),
    on `port` (else a free one), once it answers `ready`."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url + ready)
        yield Server(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
