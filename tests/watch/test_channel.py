from __future__ import annotations

import asyncio
import gzip
import json

import httpx

from staticml.serve import create_app
from staticml.watch.channel import EVENTS, SCRIPT, TAG, Channel, _stream, inject, watch_server
from tests.support import run_async

PAGE = b"<!doctype html><html><head><title>t</title></head><body>hi</body></html>"


def fetch(app, path: str, **headers: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)

    return run_async(get())


def built(tmp_path) -> Channel:
    """A channel serving a folder whose page also has a gzip copy, as builds write them."""
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(PAGE))
    (tmp_path / "app.js").write_text("console.log(1);\n")
    channel = Channel()
    channel.built(create_app(tmp_path))
    return channel


def test_pages_get_the_reload_script_uncompressed_and_other_files_stay_as_built(tmp_path):
    app = watch_server(built(tmp_path))
    page = fetch(app, "/", **{"Accept-Encoding": "gzip, br"})
    assert page.status_code == 200
    assert "content-encoding" not in page.headers
    assert page.content == PAGE.replace(b"</head>", TAG + b"</head>")
    assert int(page.headers["content-length"]) == len(page.content)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = fetch(app, "/app.js")
    assert script.content == b"console.log(1);\n"
    assert TAG not in script.content


def test_the_reload_script_and_the_empty_service_worker_are_served_as_scripts(tmp_path):
    app = watch_server(built(tmp_path))
    for path in (SCRIPT, "/sw.js"):
        response = fetch(app, path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert "content-security-policy" in response.headers
    worker = fetch(app, "/sw.js").content
    assert b"caches." not in worker and b'"fetch"' not in worker  # it caches nothing
    assert EVENTS.encode() in fetch(app, SCRIPT).content


def test_before_the_first_good_build_every_path_says_so_and_carries_the_script():
    channel = Channel()
    response = fetch(watch_server(channel), "/anything")
    assert response.status_code == 503
    assert b"Building the app" in response.content and TAG in response.content
    channel.failed("staticml.toml:2: app.name: bad")
    assert b"The build failed" in fetch(watch_server(channel), "/").content


def test_the_event_stream_tells_the_state_at_once_and_on_every_change():
    channel = Channel()

    async def listen() -> list[dict]:
        seen: list[dict] = []
        stream = _stream(channel)
        seen.append(_state(await anext(stream)))
        channel.built(lambda scope, receive, send: asyncio.sleep(0))
        seen.append(_state(await anext(stream)))
        channel.building()
        channel.failed("Error: preprocess.py:3: invalid syntax")
        seen.append(_state(await anext(stream)))
        channel.closed.set()
        assert [chunk async for chunk in stream] == []
        return seen

    assert run_async(listen()) == [
        {"generation": 0, "building": True, "error": None},
        {"generation": 1, "building": False, "error": None},
        {"generation": 1, "building": False, "error": "Error: preprocess.py:3: invalid syntax"},
    ]


def test_inject_without_a_head_appends_the_script():
    assert inject(b"<p>x</p>") == b"<p>x</p>" + TAG


def _state(chunk: bytes) -> dict:
    event, data = chunk.decode().strip().split("\n")
    assert event == "event: state"
    return json.loads(data.removeprefix("data: "))
