"""Headless Chromium and a local server, for the build stages that run the site's runtimes
(the Python snapshot, the variants' measurement) and for `staticml build --verify`."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from staticml.errors import StaticMLError
from staticml.serve import create_app

CHROMIUM_ENV = "STATICML_CHROMIUM"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--proxy-server=http://127.0.0.1:9",
)


def chromium_path(purpose: str, error: type[StaticMLError]) -> str:
    found = (
        os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found or not Path(found).exists():
        raise error(
            f"{purpose} needs Chromium: install Debian's `chromium` package (apt-get install chromium) "
            f"or point {CHROMIUM_ENV} at a Chromium binary."
        )
    return found


@contextmanager
def chromium(purpose: str, error: type[StaticMLError]) -> Iterator[tuple[Any, type[Exception]]]:
    """Headless Chromium driven by Playwright, and Playwright's error type."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise error(
            f"{purpose} drives Chromium with Playwright, which is not installed: pip install playwright."
        ) from exc
    executable = chromium_path(purpose, error)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser, PlaywrightError
        finally:
            browser.close()


@contextmanager
def serving(site: Path) -> Iterator[str]:
    """`site` served as `staticml serve` serves it, on a free port of 127.0.0.1."""
    with serving_app(create_app(site)) as origin:
        yield origin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_app(app: Any) -> Iterator[str]:
    """An ASGI app on a real uvicorn server in a thread, on a free port of 127.0.0.1."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
