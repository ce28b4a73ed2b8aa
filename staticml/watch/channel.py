"""The server of `staticml serve --watch`: the last good build, and a reload channel.

- `/__staticml/events`: Server-Sent Events (an `EventSource` on the page's own origin, which
  the site's `connect-src 'self'` allows), one `state` event on connecting and one on every
  change: `{"generation", "building", "error"}`;
- `/__staticml/reload.js`: the script that listens to it (a file, as the site's CSP wants: no
  inline script), which the server adds to every HTML page it serves, and only here;
- `/sw.js`: a service worker that caches nothing, in place of the build's, so that no edit is
  ever answered from an offline cache;
- everything else: the site as `staticml serve` serves it (`staticml.serve.create_app`),
  remade after each good build, since a build changes the CSP's script hashes and the
  immutable files. Before the first good build every path gets a page saying so.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from staticml.headers import CACHE_REVALIDATE, content_type, security_headers
from staticml.runtime.contract import SERVICE_WORKER

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/__staticml/"
EVENTS = PREFIX + "events"
SCRIPT = PREFIX + "reload.js"
_HERE = Path(__file__).resolve().parent
TAG = f'<script src="{SCRIPT}" defer></script>'.encode()
POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True)
class State:
    generation: int = 0  # good builds so far
    building: bool = True
    error: str | None = None  # the last build's error, while it is the last build

    def event(self) -> bytes:
        data = json.dumps(
            {"generation": self.generation, "building": self.building, "error": self.error}
        )
        return f"event: state\ndata: {data}\n\n".encode()


class Channel:
    """What the build loop tells open pages; read by the server's event streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = State()
        self._site: App | None = None
        self.closed = threading.Event()

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def site(self) -> App | None:
        with self._lock:
            return self._site

    def building(self) -> None:
        with self._lock:
            self._state = replace(self._state, building=True)

    def built(self, site: App) -> None:
        with self._lock:
            self._site = site
            self._state = State(self._state.generation + 1, False, None)

    def failed(self, error: str) -> None:
        with self._lock:
            self._state = replace(self._state, building=False, error=error)


def watch_server(channel: Channel, on_startup: Callable[[], None] = lambda: None) -> App:
    """The ASGI app; `on_startup` runs once the server listens (so a port already in use
    stops everything before any build starts)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_startup)
            return
        path = scope.get("path", "")
        if path == EVENTS:
            await _events(channel, send)
        elif path == SCRIPT:
            await _file(send, _HERE / "reload.js")
        elif path == "/" + SERVICE_WORKER:
            await _file(send, _HERE / "sw.js")
        elif (site := channel.site) is None:
            await _waiting(channel.state, send)
        else:
            await site(_identity_encoding(scope), receive, _injecting(send))

    return app


async def _lifespan(receive: Receive, send: Send, on_startup: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            on_startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _headers(name: str, extra: dict[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    headers = {
        **security_headers(),
        "Cache-Control": CACHE_REVALIDATE,
        "Content-Type": content_type(name),
        **(extra or {}),
    }
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


async def _file(send: Send, path: Path) -> None:
    body = path.read_bytes()
    length = {"Content-Length": str(len(body))}
    await send(
        {"type": "http.response.start", "status": 200, "headers": _headers(path.name, length)}
    )
    await send({"type": "http.response.body", "body": body})


async def _events(channel: Channel, send: Send) -> None:
    headers = _headers("events", {"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    async for chunk in _stream(channel):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _stream(channel: Channel) -> AsyncIterator[bytes]:
    """The state at once and on each change; a comment now and then keeps proxies from
    closing an idle stream."""
    last, quiet = None, 0.0
    while not channel.closed.is_set():
        state = channel.state
        if state != last:
            last, quiet = state, 0.0
            yield state.event()
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS


async def _waiting(state: State, send: Send) -> None:
    """Any path before the first good build: the reload script shows the build's error, or
    reloads the page once the build is done."""
    doing = "The build failed" if state.error else "Building the app"
    body = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{doing}</title>'
        f"{TAG.decode()}</head><body><h1>{doing}…</h1>"
        "<p>This page reloads when the build is done.</p></body></html>\n"
    ).encode()
    headers = _headers("index.html", {"Content-Length": str(len(body))})
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _identity_encoding(scope: Scope) -> Scope:
    """The request without Accept-Encoding, so that a page comes uncompressed and can take
    the reload script (the precompressed copies are not the point of this server)."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
    return {**scope, "headers": headers}


def _injecting(send: Send) -> Send:
    """`send`, with the reload script added to the head of an HTML response."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            kind = dict(message.get("headers", [])).get(b"content-type", b"")
            if not kind.startswith(b"text/html"):
                await send(message)
                return
            start = message
            return
        if start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = inject(b"".join(chunks))
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def inject(page: bytes) -> bytes:
    head = page.find(b"</head>")
    return page[:head] + TAG + page[head:] if head >= 0 else page + TAG
