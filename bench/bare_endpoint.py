"""The ceiling for the collector bench: a Starlette endpoint that only parses the JSON body of
a summary and answers 202, served by the same uvicorn as `staticml beacon`.

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
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
