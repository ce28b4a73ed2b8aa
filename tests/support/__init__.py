"""What the tests share that is not a fixture (the fixtures are in tests/conftest.py).

This module: the project's paths, a copy of an example app, free ports, waiting for a server,
reading JSON, running a coroutine. Beside it, by subject: `demo` (the session's cold builds of the demo), `serving`
(`staticml serve` and deliberately odd servers), `browser` (watched Chromium contexts),
`postgres` (a throw-away cluster), `beacon` (a real `staticml beacon`), `monitoring` (the
monitored wine site), `iris` (the compression tests' app), `models` (small ONNX files),
`dependencies` (a pinned pure-Python wheel), `registry` (a stand-in npm registry), and the data of the collector, retrain, rollout
and scoring tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
APP_DIR = ROOT / "app"
EXAMPLES = ROOT / "examples"


def copy_example(name: str, root: Path) -> Path:
    """A copy of `examples/NAME` in `root`, to change without touching the checkout."""
    return Path(shutil.copytree(EXAMPLES / name, root / name))


def free_port() -> int:
    """A port free now, for a server a child process binds later.

    Not one the kernel hands out itself (bind to port 0): its ephemeral range also serves the
    outgoing connections of every client in the suite, and one of them could take the port
    between this check and the child's bind (seen as "address already in use"). Ports below
    the ephemeral range are only ever taken by a server that asks for them."""
    low, _ = _ephemeral_range()
    chosen = range(FIRST_CHOSEN_PORT, max(low, FIRST_CHOSEN_PORT + 1_000))
    for port in random.SystemRandom().sample(chosen, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port among 200 tried from {chosen.start} to {chosen.stop}")


FIRST_CHOSEN_PORT = 20_000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except OSError:
        return 32_768, 60_999
    return int(low), int(high)


def wait_for_http(url: str, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def run_async(coroutine):
    """Run a coroutine to its end in a thread of its own (the browser tests' Playwright keeps
    an event loop running in the main thread, where asyncio.run is refused)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def off_the_loop(function, *args, **kwargs):
    """Call `function` in a thread of its own: a build with --verify drives Chromium through
    Playwright's sync API, which is refused in the main thread while the browser tests'
    Playwright keeps its event loop running there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()
