"""`staticml serve` over a real socket: types, headers, encodings, caching."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from staticml.errors import StaticMLError
from staticml.headers import content_security_policy
from staticml.importmap import import_maps_in
from staticml.serve import create_app


def fetch(url: str, encoding: str = "identity", method: str = "GET"):
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding}, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:  # it holds the response, and so the socket
            return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def manifest(built_site):
    return json.loads((built_site.path / "bundle.json").read_text())


def path_of(manifest, suffix: str) -> str:
    return next(p for p in manifest["assets"] if p.endswith(suffix))


@pytest.mark.parametrize(
    ("suffix", "content_type"),
    [
        ("pyodide.asm.wasm", "application/wasm"),
        ("pyodide.mjs", "text/javascript; charset=utf-8"),
        (".whl", "application/zip"),
        (".onnx", "application/octet-stream"),
        (".css", "text/css; charset=utf-8"),
        ("python_stdlib.zip", "application/zip"),
    ],
)
def test_content_types(server, manifest, suffix, content_type):
    status, headers, _ = fetch(server.url + path_of(manifest, suffix))
    assert status == 200 and headers["Content-Type"] == content_type


def test_every_response_carries_the_isolation_and_security_headers(server, manifest):
    # The policy allows the page's one inline script, its import map, by its hash.
    page = fetch(server.url)[2].decode()
    assert manifest["scripts"] == import_maps_in(page) and len(manifest["scripts"]) == 1
    for path in ("", path_of(manifest, ".mjs"), "missing-file"):
        _, headers, _ = fetch(server.url + path)
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert headers["Content-Security-Policy"] == content_security_policy(
            scripts=manifest["scripts"]
        )
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_hashed_assets_are_immutable_and_the_rest_revalidates(server, manifest):
    assert (
        fetch(server.url + path_of(manifest, ".onnx"))[1]["Cache-Control"]
        == "public, max-age=31536000, immutable"
    )
    for path in ("", "index.html", "bundle.json"):
        assert fetch(server.url + path)[1]["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("br, gzip", "br"), ("gzip", "gzip"), ("identity", None), ("gzip;q=1, br", "br")],
)
def test_precompressed_variants_are_negotiated(server, manifest, built_site, accept, expected):
    path = path_of(manifest, "ort-wasm-simd-threaded.wasm")
    status, headers, body = fetch(server.url + path, accept)
    assert status == 200
    assert headers.get("Content-Encoding") == expected
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"] == "application/wasm"
    suffix = {"br": ".br", "gzip": ".gz", None: ""}[expected]
    assert body == (built_site.path / (path + suffix)).read_bytes()


def test_head_and_not_found(server):
    status, headers, body = fetch(server.url + "index.html", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    assert fetch(server.url + "nope.js")[0] == 404


def test_paths_cannot_escape_the_site(server):
    for path in ("../pyproject.toml", "%2e%2e/pyproject.toml", "static/../../pyproject.toml"):
        assert fetch(server.url + path)[0] == 404


def test_serving_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(StaticMLError, match=r"no such folder\. Build first"):
        create_app(tmp_path / "nope")
