"""The ceiling for the collector bench: a Starlette endpoint that only parses the JSON body of
a summary and answers 202, served by uvicorn exactly as `staticml beacon` serves (the same
`Collector.config` settings: its guarded httptools protocol, no proxy headers, no access log).

    .venv/bin/python bench/bare_endpoint.py PORT
"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from staticml.collector.connections import ConnectionGuard
from staticml.collector.limits import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from staticml.collector.service import Collector


async def receive(request: Request) -> Response:
    json.loads(await request.body())
    return JSONResponse({"status": "accepted"}, status_code=202)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/v1/summaries", receive, methods=["POST"]),
        Route("/healthz", health),
    ]
)

if __name__ == "__main__":
    guard = ConnectionGuard(DEFAULT_MAX_CONNECTIONS, DEFAULT_HEADER_TIMEOUT)
    bare = Collector(app, store=None, releases=(), proxies=[], guard=guard)  # type: ignore[arg-type]
    uvicorn.Server(bare.config("127.0.0.1", int(sys.argv[1]))).run()
