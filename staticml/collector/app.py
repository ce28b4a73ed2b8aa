"""The collector's ASGI app: receive summaries, report drift, show a dashboard.

    POST /v1/summaries         a summary (docs/summaries.md) → 202 once committed
    GET  /v1/drift?release=R&window=24h   the drift report as JSON
    POST /v1/rollout           a rollout summary (shadow comparisons, feedback) → 202
    GET  /v1/rollout?window=24h           outcome rates per release, shadow agreement
    GET  /?release=R&window=24h&page=N   the dashboard (server-rendered HTML and SVG, no
                               script); its release links come PAGE_SIZE to a page
    GET  /healthz              200 when the database answers

Domain errors become HTTP statuses in one place (`replies.STATUS`); every other path or
method is a JSON 404 or 405, malformed paths included (`staticml.request_path`). POST
/v1/summaries, the hot path, is answered by the `front.Front` layer before the router. The client address is
used, in memory only, by the rate limiter; it is never stored, logged or echoed.

Replies say what the client can do and nothing about the collector's insides (no file
paths, database hosts or users, no list of the releases it accepts); the detail of a failure
goes to the log. The reports, the dashboard and /healthz answer only for the host names in
`allowed_hosts` (against DNS rebinding), and with a `report_token` only to requests carrying
it; summaries may be posted by anyone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from staticml.baseline import Baseline
from staticml.collector.batching import GroupCommit
from staticml.collector.dashboard import DASHBOARD_CSP, release_page, render_dashboard
from staticml.collector.errors import (
    HostNotAllowed,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from staticml.collector.front import Front, read_all
from staticml.collector.limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BATCH
from staticml.collector.outcomes import rollout_report
from staticml.collector.ratelimit import RateLimiter
from staticml.collector.replies import (
    API_HEADERS,
    NOT_FOUND,
    error_reply,
    internal_reply,
)
from staticml.collector.report import accuracy_history, drift_report, psi_history
from staticml.collector.rollout import parse_rollout
from staticml.collector.rollout_section import rollout_section
from staticml.collector.storage import Store
from staticml.collector.validate import parse_summary, unknown_release
from staticml.drift import DEFAULT_THRESHOLDS, Thresholds
from staticml.errors import CollectorError

MAX_BODY = 64 * 1024
MIN_TOKEN = 16
DEFAULT_WINDOW = "24h"
MEDIA_TYPES = ("text/plain", "application/json", "")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?|\*")
_TOKEN = re.compile(rf"[\x21-\x7e]{{{MIN_TOKEN},256}}")
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def check_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The allowed origins, each `scheme://host[:port]` (or `*`), else a CollectorError."""
    checked = []
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise CollectorError(
                f"--allow-origin {origin!r} is not an origin: write scheme://host[:port] with no "
                "path or trailing slash, e.g. https://example.com, or * for any origin."
            )
        checked.append(origin)
    return tuple(checked)


def check_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """The host names (or IP addresses, or `*`) reports answer for, lower case, else an error."""
    checked = set()
    for host in hosts:
        name = host.lower().removeprefix("[").removesuffix("]")
        if not (_HOST_NAME.fullmatch(name) or _is_ip(name)):
            raise CollectorError(
                f"--allowed-host {host!r} is not a host name: write a name or address with no "
                "scheme, port or path, e.g. collector.example.com or 192.0.2.10, or * for any."
            )
        checked.add(name.rstrip("."))
    return frozenset(checked)


def check_token(token: str | None) -> str | None:
    if token is not None and not _TOKEN.fullmatch(token):
        raise CollectorError(
            f"The report token must be {MIN_TOKEN} to 256 printable ASCII characters without "
            "spaces: make one with `python -c 'import secrets; print(secrets.token_urlsafe())'`."
        )
    return token


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_of(header: str) -> str:
    """The host name of a Host header, lower case, without port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def token_of(authorization: str) -> str:
    """The token of `Bearer TOKEN`, or the password of `Basic base64(user:TOKEN)`, else ""."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def create_collector_app(
    baselines: Mapping[str, Baseline],
    store: Store,
    *,
    allow_origins: Sequence[str] = (),
    limiter: RateLimiter | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    allowed_hosts: Iterable[str] = ("*",),
    report_token: str | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> ASGIApp:
    """The collector for `baselines` (by release) storing into `store`; summaries that arrive
    together are committed together, up to `max_batch` in one transaction (1: each alone)."""
    limiter = limiter or RateLimiter()
    committer = GroupCommit(store.add_many, max_batch, getattr(store, "writers", 1))
    hosts = check_hosts(allowed_hosts)
    token = check_token(report_token)

    def check_host(request: Request) -> None:
        if "*" not in hosts and host_of(request.headers.get("host", "")) not in hosts:
            raise HostNotAllowed(
                "This collector does not answer for the host name this request was sent to; "
                "use the address its operator published."
            )

    def check_reader(request: Request) -> None:
        check_host(request)
        sent = token_of(request.headers.get("authorization", ""))
        if token is not None and not hmac.compare_digest(sent.encode(), token.encode()):
            raise Unauthorized(
                "The reports need the collector's report token: send it as "
                "`Authorization: Bearer TOKEN` (or as the password of HTTP Basic)."
            )

    def admit(client: str, media_type: str) -> None:
        retry_after = limiter.acquire(client)
        if retry_after is not None:
            raise RateLimited("Too many summaries from this client; retry later.", retry_after)
        if media_type not in MEDIA_TYPES:
            raise UnsupportedMediaType(
                f"Content-Type {media_type!r} is not accepted: send the summary as text/plain "
                "(navigator.sendBeacon with a string) or application/json."
            )

    async def take_summary(body: bytes) -> None:
        await committer.add(parse_summary(body, baselines, clock()))

    async def receive_rollout(request: Request) -> Response:
        client = request.client.host if request.client else ""
        admit(client, request.headers.get("content-type", "").split(";")[0].strip().lower())
        summary = parse_rollout(await read_body(request, MAX_BODY), baselines, clock())
        await run_in_threadpool(store.add_rollout, summary)
        return JSONResponse({"status": "accepted"}, status_code=202, headers=API_HEADERS)

    async def rollout(request: Request) -> Response:
        check_reader(request)
        window = request.query_params.get("window", DEFAULT_WINDOW)
        report = await run_in_threadpool(rollout_report, store, window, clock())
        return JSONResponse(report, headers=API_HEADERS)

    def report_for(request: Request) -> tuple[str, Baseline, str]:
        check_reader(request)
        release = request.query_params.get("release") or min(baselines, default="")
        if release not in baselines:
            raise unknown_release("release", release)
        return release, baselines[release], request.query_params.get("window", DEFAULT_WINDOW)

    async def drift(request: Request) -> Response:
        release, baseline, window = report_for(request)
        report = await run_in_threadpool(
            drift_report, store, release, baseline, window, now=clock(), thresholds=thresholds
        )
        return JSONResponse(report.to_json(), headers=API_HEADERS)

    async def dashboard(request: Request) -> Response:
        release, baseline, window = report_for(request)
        page = release_page(list(baselines), release, request.query_params.get("page"))
        now = clock()
        report = await run_in_threadpool(
            drift_report, store, release, baseline, window, now=now, thresholds=thresholds
        )
        history = await run_in_threadpool(
            psi_history, store, release, baseline, window, now=now, thresholds=thresholds
        )
        outcomes = await run_in_threadpool(rollout_report, store, window, now)
        accuracy = await run_in_threadpool(
            accuracy_history, store, release, baseline, window, now=now, thresholds=thresholds
        )
        html = render_dashboard(report, history, page, accuracy, rollout_section(outcomes))
        return HTMLResponse(html, headers={**API_HEADERS, "Content-Security-Policy": DASHBOARD_CSP})

    async def health(request: Request) -> Response:
        check_host(request)
        await run_in_threadpool(store.ping)
        return JSONResponse({"status": "ok", "releases": sorted(baselines)}, headers=API_HEADERS)

    routes = [
        Route("/v1/drift", drift, methods=["GET"]),
        Route("/v1/rollout", receive_rollout, methods=["POST"]),
        Route("/v1/rollout", rollout, methods=["GET"]),
        Route("/", dashboard, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            CollectorError: collector_error,  # type: ignore[dict-item]
            HTTPException: http_error,  # type: ignore[dict-item]
            Exception: internal_error,
        },
    )
    return Front(
        app,
        admit=admit,
        take=take_summary,
        allow_origins=check_origins(allow_origins),
        body_timeout=body_timeout,
        max_body=MAX_BODY,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` bytes (not after reading it)."""
    body = await read_all(request.receive, request.headers.get("content-length", ""), limit)
    if body is None:
        raise ClientDisconnect()
    return body


async def http_error(request: Request, error: HTTPException) -> Response:
    """The router's own refusals (no such path, another method), in JSON like every reply."""
    headers = {**API_HEADERS, **(error.headers or {})}
    message = NOT_FOUND
    if error.status_code != 404:
        message = f"{request.method} is not allowed here; use {headers.get('Allow', 'GET')}."
    return JSONResponse({"error": message}, status_code=error.status_code, headers=headers)


async def collector_error(request: Request, error: CollectorError) -> Response:
    reply = error_reply(error)
    if reply is None:
        return await internal_error(request, error)
    status, body, headers = reply
    return JSONResponse(body, status_code=status, headers=headers)


async def internal_error(request: Request, error: Exception) -> Response:
    body = internal_reply(request.method, request.url.path, error)
    return JSONResponse(body, status_code=500, headers=API_HEADERS)
