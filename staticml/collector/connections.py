"""Bounds on what slow or idle clients can hold: connections, header time, body time.

uvicorn waits for a request's headers, and for its body, as long as the client likes, and
keeps every connection it accepts. Here (on uvicorn's httptools protocol, the fastest it has):

- a connection must deliver a request's headers within `header_timeout` seconds of opening
  (or of the previous response), else it is closed;
- at most `max_connections` are open: a new one closes the oldest that has no request in
  progress (an idle or still-sending-headers client), so idle sockets cannot keep a new
  request out; if every connection has a request in progress, the new one is closed;
- a request's body must keep arriving: each part within `body_timeout` seconds, else 408
  (`timed_body`, which `front.Front` puts around every request's `receive`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from staticml.collector.errors import RequestTimeout


class ConnectionGuard:
    """The open connections of one server, oldest first, and the limit on their number."""

    def __init__(self, max_connections: int, header_timeout: float) -> None:
        if max_connections < 1 or header_timeout <= 0:
            raise ValueError("max_connections must be at least 1 and header_timeout positive")
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open: dict[GuardedProtocol, None] = {}

    def admit(self, connection: GuardedProtocol) -> bool:
        """Count `connection` in, closing the oldest idle one past the limit; False: refused."""
        if len(self.open) >= self.max_connections:
            idle = next((c for c in self.open if not c.busy), None)
            if idle is None:
                return False
            self.forget(idle)
            idle.close()
        self.open[connection] = None
        return True

    def forget(self, connection: GuardedProtocol) -> None:
        self.open.pop(connection, None)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a place in a `ConnectionGuard`."""

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    @property
    def busy(self) -> bool:
        """A request has been received and its response is not complete."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            self.close()
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.busy:
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.busy:
            self._await_headers()

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._header_deadline = self.loop.call_later(self.guard.header_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.busy:
            self.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedProtocol]:
    """A protocol class for `uvicorn.run(http=...)` whose connections `guard` bounds."""
    return type("GuardedProtocol", (GuardedProtocol,), {"guard": guard})


def timed_body(receive: Receive, seconds: float) -> Callable[[], Awaitable[Message]]:
    """`receive`, raising RequestTimeout while the body is incomplete and a part is late."""
    done = False

    async def timed() -> Message:
        nonlocal done
        if done:
            return await receive()
        try:
            async with asyncio.timeout(seconds):
                message = await receive()
        except TimeoutError:
            raise RequestTimeout(
                f"The request body did not arrive within {seconds:g} seconds; send it again "
                "in one go."
            ) from None
        done = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return timed
