"""Changing a site's scripts on the host and visiting it: what tests/browser/test_tampering.py
does to each script (see its docstring)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from staticml.serve import create_app
from tests.support.browser import PYODIDE_STDLIB_ERRORS
from tests.support.serving import serve_in_thread

MARKER = "/__tampered__/"
CHROMIUM_REFUSAL = r"integrity|digest|Failed to load resource"


@dataclass(frozen=True)
class Shadowed:
    root: Path
    a: str
    b: str


def trace(case: str) -> bytes:
    """Code announcing, by a request the server records, that it ran and in which context."""
    url = f"{MARKER}{case}?in="
    return (
        f"(() => {{ const url = '{url}' + globalThis.constructor.name;"
        " if (typeof XMLHttpRequest === 'function') { const r = new XMLHttpRequest();"
        " r.open('GET', url, false); r.send(); } else { fetch(url); } })();\n"
    ).encode()


def recording(app, seen: list[str]):
    """`app`, noting every request's path (and query); marker requests are answered 204."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            query = scope["query_string"].decode()
            seen.append(unquote(scope["path"]) + (f"?{query}" if query else ""))
            if scope["path"].startswith(MARKER):
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await app(scope, receive, send)

    return wrapped


def shipped_scripts(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".js", ".mjs") and not p.name.startswith(".")
    }


def one_script(root: Path, pattern: str, site: Shadowed) -> str:
    regex = re.compile(pattern.format(a=site.a, b=site.b))
    [path] = [p for p in shipped_scripts(root) if regex.fullmatch(p)]
    return path


@dataclass
class Visit:
    page: object
    watched: object
    requests: list[str]
    target: str

    def markers(self) -> list[str]:
        return [r for r in self.requests if r.startswith(MARKER)]

    def assert_refused_unrun(self) -> None:
        assert f"/{self.target}" in self.requests, "the changed file was never even asked for"
        assert self.markers() == [], f"changed code ran: {self.markers()}"


def prepended(case: str, pattern: str, shadowed: Shadowed) -> Callable[[Path], str]:
    """A change to the site: `trace(case)` before the script matching `pattern`, whose
    precompressed copies go (or they would be served instead); it returns the file's path."""

    def change(root: Path) -> str:
        target = one_script(root, pattern, shadowed)
        changed = root / target
        changed.write_bytes(trace(case) + changed.read_bytes())
        for suffix in (".br", ".gz"):
            changed.with_name(changed.name + suffix).unlink(missing_ok=True)
        return target

    return change


@contextlib.contextmanager
def visit(
    shadowed: Shadowed, tmp_path: Path, open_browser, change: Callable[[Path], str]
) -> Iterator[Visit]:
    """A copy of the site with `change` made to it, served, and a fresh context's page."""
    root = tmp_path / "site"
    shutil.copytree(shadowed.root, root)
    target = change(root)
    requests: list[str] = []
    with serve_in_thread(recording(create_app(root), requests), ready="manifest.json") as server:
        collector = json.loads((root / "releases" / shadowed.a / "bundle.json").read_text())
        watched = open_browser(server.url, allowed=(collector["monitor"]["collector"],))
        watched.expect_errors(CHROMIUM_REFUSAL, PYODIDE_STDLIB_ERRORS)
        page = watched.new_page()
        yield Visit(page, watched, requests, target)


def open_release(page, origin: str, release: str) -> None:
    """Open the site, let the router send this browser to `release`, and wait for its runtime."""
    page.goto(origin)
    page.wait_for_url(f"**/releases/{release}/")
    page.evaluate("window.staticml.ready")


def refusal_seen(target: str):
    """Chromium's own console report that it blocked `target` for its integrity."""
    name = Path(target).name
    return lambda message: "integrity" in message.text and name in message.text
