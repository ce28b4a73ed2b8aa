"""The collector's one ASGI layer in front of its routes, and the summaries' hot path.

For every request, in this order: a CORS preflight is answered (Starlette's `CORSMiddleware`
decides it); a path that `request_path.segments` refuses is a 404, before any routing (the
router matches the decoded path, in which `/v1%2fdrift` is `/v1/drift` and `/v1/drift%00` a
new name); the body must keep arriving, each part within `body_timeout` seconds
(`timed_body`), else 408; and replies carry the CORS headers an allowed origin needs.

`POST /v1/summaries`, nearly all of a collector's traffic, is answered here in raw ASGI
messages: no router, no Request or Response objects, no middleware stack. Every other
request goes on to the Starlette app behind (through `CORSMiddleware` for its headers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from staticml.collector.connections import timed_body
from staticml.collector.errors import PayloadTooLarge
from staticml.collector.replies import (
    API_HEADERS,
    NOT_FOUND,
    Headers,
    encoded,
    error_reply,
    internal_reply,
    json_body,
    send_json,
)
from staticml.errors import CollectorError
from staticml.request_path import raw_path_of, segments

SUMMARIES = b"/v1/summaries"
SUMMARY_NAMES = ("v1", "summaries")
ACCEPTED = json_body({"status": "accepted"})
_API = encoded(API_HEADERS)
_VARY = (b"vary", b"Origin")
_NOT_FOUND = json_body({"error": NOT_FOUND})

Admit = Callable[[str, str], None]  # (client address, media type): raises a CollectorError
Take = Callable[[bytes], Awaitable[object]]  # a summary's body, answered once committed


class Front:
    """The layer before `app`: preflights, path checks, body timeouts, CORS headers, and
    `POST /v1/summaries` (`admit` checks the request before its body is read, `take` its body).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        admit: Admit,
        take: Take,
        allow_origins: Sequence[str],
        body_timeout: float,
        max_body: int,
    ) -> None:
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=86400,
        )
        self.admit = admit
        self.take = take
        self.body_timeout = body_timeout
        self.max_body = max_body
        self.any_origin = "*" in allow_origins
        self.origins = frozenset(allow_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.cors(scope, receive, send)
            return
        fields = _fields(scope["headers"])
        origin = fields.get(b"origin")
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in fields
        if origin is not None and preflight:
            await self.cors(scope, receive, send)  # answers the preflight itself
            return
        raw_path = raw_path_of(scope)
        names = SUMMARY_NAMES if raw_path == SUMMARIES else segments(raw_path)
        if names is None:
            await send_json(send, 404, _NOT_FOUND, [*_API, *self.cors_headers(origin)])
            return
        if names != SUMMARY_NAMES:
            await self.cors(scope, timed_body(receive, self.body_timeout), send)
        elif scope["method"] == "POST":
            await self.summary(scope, timed_body(receive, self.body_timeout), send, fields)
        else:
            message = json_body({"error": f"{scope['method']} is not allowed here; use POST."})
            headers = [*_API, (b"allow", b"POST"), *self.cors_headers(origin)]
            await send_json(send, 405, message, headers)

    def cors_headers(self, origin: bytes | None) -> Headers:
        """What `CORSMiddleware` adds to a reply (no credentials, nothing exposed)."""
        if origin is None:
            return [_VARY]
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*"), _VARY]
        if origin.decode("latin-1") in self.origins:
            return [(b"access-control-allow-origin", origin), _VARY]
        return [_VARY]

    async def summary(self, scope: Scope, receive: Receive, send: Send, fields: Fields) -> None:
        cors = self.cors_headers(fields.get(b"origin"))
        try:
            client = scope.get("client")
            media_type = fields.get(b"content-type", b"").decode("latin-1")
            self.admit(client[0] if client else "", media_type.split(";")[0].strip().lower())
            body = await read_all(receive, fields.get(b"content-length", b""), self.max_body)
            if body is None:
                return  # the client left: there is no one to answer
            await self.take(body)
        except CollectorError as error:
            reply = error_reply(error)
            if reply is None:
                await self._internal_error(send, error, cors)
                return
            status, content, headers = reply
            await send_json(send, status, json_body(content), [*encoded(headers), *cors])
        except Exception as error:
            await self._internal_error(send, error, cors)
        else:
            await send_json(send, 202, ACCEPTED, [*_API, *cors])

    async def _internal_error(self, send: Send, error: Exception, cors: Headers) -> None:
        content = json_body(internal_reply("POST", SUMMARIES.decode(), error))
        await send_json(send, 500, content, [*_API, *cors])


Fields = dict[bytes, bytes]


def _fields(headers: Sequence[tuple[bytes, bytes]]) -> Fields:
    """The first value of each header (names are lower case in ASGI)."""
    fields: Fields = {}
    for name, value in headers:
        fields.setdefault(name, value)
    return fields


async def read_all(receive: Receive, declared: bytes | str, limit: int) -> bytes | None:
    """The body, refused as soon as it is known to exceed `limit` bytes (not after reading
    it); None when the client disconnects first."""
    if isinstance(declared, bytes):
        declared = declared.decode("latin-1")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit} bytes.")
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"The body exceeds the limit of {limit} bytes.")
        if not message.get("more_body", False):
            return body
