"""Headless Chromium and a local server, for the build stages that run the site's runtimes
(the Python snapshot, the variants' measurement) and for `staticml build --verify`."""

from __future__ import annotations

import importlib.util
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


# Looked for in this order, each first as names on PATH, then at the usual install paths.
BROWSERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Debian's or Ubuntu's chromium", ("chromium", "chromium-browser"), ("/snap/bin/chromium",)),
    (
        "Google Chrome",
        ("google-chrome", "google-chrome-stable"),
        (
            "/opt/google/chrome/chrome",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        ),
    ),
)
# Inside a Playwright browsers folder, where Playwright keeps the browsers it downloaded.
PLAYWRIGHT_BUILDS = (
    "chromium-*/chrome-linux*/chrome",
    "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
    "chromium-*/chrome-mac*/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
    "chromium-*/chrome-win*/chrome.exe",
    "chromium_headless_shell-*/chrome-*/headless_shell",
    "chromium_headless_shell-*/chrome-*/chrome-headless-shell",
)


def chromium_path(purpose: str, error: type[StaticMLError]) -> str:
    """The Chromium to drive: `$STATICML_CHROMIUM`, else the first of `BROWSERS`, else one
    Playwright downloaded (the newest); an error saying how to get one when there is none."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        if not Path(named).is_file():
            raise error(
                f"{purpose} needs Chromium, but {CHROMIUM_ENV} is {named}, which is not a file: "
                "point it at a Chromium binary, or unset it to let staticml look for one."
            )
        return named
    found = _installed() or _playwrights()
    if found is None:
        raise error(
            f"{purpose} needs Chromium or Google Chrome, and none was found (looked for "
            f"${CHROMIUM_ENV}, chromium, google-chrome and Playwright's browsers in "
            f"{', '.join(str(p) for p in playwright_folders())}). Install one from your "
            "system's packages (`apt-get install chromium` on Debian or Ubuntu) or Google "
            f"Chrome; or point {CHROMIUM_ENV} at one. Or build with --no-browser to skip the "
            "browser steps (the model ships uncompressed, without the Python snapshot, "
            "unverified)."
        )
    return found


def _installed() -> str | None:
    for _, names, paths in BROWSERS:
        for name in names:
            if found := shutil.which(name):
                return found
        for path in paths:
            if Path(path).is_file():
                return path
    return None


def playwright_folders() -> tuple[Path, ...]:
    """Where Playwright keeps the browsers it downloads, on this system."""
    named = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if named and named != "0":
        return (Path(named),)
    home = Path.home()
    folders = [
        home / ".cache" / "ms-playwright",
        home / "Library" / "Caches" / "ms-playwright",
        Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "ms-playwright",
    ]
    if named == "0":  # installed inside the playwright package itself
        folders.insert(0, _playwright_package() / "driver" / "package" / ".local-browsers")
    return tuple(folders)


def _playwright_package() -> Path:
    spec = importlib.util.find_spec("playwright")
    origin = spec.origin if spec is not None else None
    return Path(origin).parent if origin else Path("playwright")


def _playwrights() -> str | None:
    for folder in playwright_folders():
        builds = [p for pattern in PLAYWRIGHT_BUILDS for p in folder.glob(pattern) if p.is_file()]
        if builds:
            return str(max(builds, key=_revision))
    return None


def _revision(path: Path) -> tuple[bool, int]:
    """Full Chromium before the headless shell, then the newest build number."""
    build = next(p for p in path.parents if "-" in p.name and p.name.startswith("chromium"))
    kind, _, number = build.name.rpartition("-")
    return (kind == "chromium", int(number) if number.isdigit() else 0)


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
