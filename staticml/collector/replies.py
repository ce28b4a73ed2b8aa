"""The collector's replies: domain errors mapped to HTTP statuses in one place (`STATUS`), and
JSON replies sent as raw ASGI messages (the hot path builds no Response object).

Replies say what the client can do and nothing about the collector's insides: the detail of
a failure goes to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from starlette.types import Send

from staticml.collector.errors import (
    HostNotAllowed,
    InvalidRequest,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    StorageUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from staticml.errors import CollectorError

log = logging.getLogger("staticml.collector")

Headers = list[tuple[bytes, bytes]]

STATUS: dict[type[CollectorError], int] = {
    HostNotAllowed: 400,
    Unauthorized: 401,
    RequestTimeout: 408,
    InvalidRequest: 422,
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    RateLimited: 429,
    StorageUnavailable: 503,
}
API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Pages are cross-origin isolated (COEP require-corp): they may only read replies that opt in.
    "Cross-Origin-Resource-Policy": "cross-origin",
}
NOT_FOUND = (
    "No such endpoint: the collector answers /v1/summaries, /v1/drift, /v1/rollout, / and "
    "/healthz (docs/collector.md)."
)
INTERNAL_ERROR = (
    "The collector failed to answer this request; retry later. If it keeps failing, tell the "
    "collector's operator (the detail is in its log)."
)
AUTH_CHALLENGE = 'Basic realm="staticml collector", charset="UTF-8"'


def error_reply(error: CollectorError) -> tuple[int, dict[str, object], dict[str, str]] | None:
    """The status, JSON body and headers that answer `error`; None: not a client's error (500)."""
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), None)
    if status is None:
        return None
    body: dict[str, object] = {"error": str(error)}
    headers = dict(API_HEADERS)
    if isinstance(error, InvalidRequest):
        body["key"] = error.key
    if isinstance(error, StorageUnavailable):
        body["error"] = error.public  # the store has logged what failed
    if isinstance(error, RateLimited | StorageUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, PayloadTooLarge | RequestTimeout):
        headers["Connection"] = "close"  # the rest of the body is never read
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = AUTH_CHALLENGE
    return status, body, headers


def internal_reply(method: str, path: str, error: BaseException) -> dict[str, object]:
    """The body of a 500, once the detail of `error` is logged."""
    log.error("%s %s failed", method, path, exc_info=error)
    return {"error": INTERNAL_ERROR}


def encoded(headers: Mapping[str, str]) -> Headers:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def json_body(content: object) -> bytes:
    """`content` as Starlette's JSONResponse encodes it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def send_json(send: Send, status: int, body: bytes, headers: Headers) -> None:
    """A whole JSON reply in two ASGI messages."""
    length = (b"content-length", str(len(body)).encode())
    kind = (b"content-type", b"application/json")
    start = {"type": "http.response.start", "status": status, "headers": [length, kind, *headers]}
    await send(start)
    await send({"type": "http.response.body", "body": body})
