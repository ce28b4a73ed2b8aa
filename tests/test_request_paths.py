"""Odd request paths against a real `staticml serve` and a real collector, over raw HTTP.

Clients normalise paths (`..`, `%2e`, `//`), so requests go through `http.client`, which sends
the target exactly as given. Every odd path must be an ordinary 404, never a 5xx or a
traceback in the server's output: `staticml serve`'s with its security headers, the
collector's with its JSON error. Each server is stopped before its output is read, so nothing
it had still to log is missed.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from staticml.headers import SECURITY_HEADERS
from staticml.request_path import MAX_NAME_BYTES, MAX_PATH_BYTES, raw_path_of, segments
from tests.support.beacon import beacon
from tests.support.collector import wine_baseline, write_bundle
from tests.support.serving import serve_subprocess

SECRET = b"outside the site\n"

# Each would reach a file, a route or an error if the path were taken at its decoded word.
ODD_PATHS = [
    "/%00",
    "/index.html%00",
    "/%00/index.html",
    "/..",
    "/../outside/secret.txt",
    "/a/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E/outside/secret.txt",
    "/a/%2e%2e/index.html",
    "/.",
    "/./index.html",
    "/%2e/index.html",
    "/a%2fb.txt",
    "/a%2Fb.txt",
    "/a%5cb.txt",
    "/a%5Cb.txt",
    "/a\\b.txt",
    "/..%2foutside%2fsecret.txt",
    "/..%5coutside%5csecret.txt",
    "//outside/secret.txt",
    "/a//b.txt",
    "/" + "n" * (MAX_NAME_BYTES + 1),
    "/" + "n" * 5000,
    "/" + "a/" * 3000,
    "/" + "%61/" * (MAX_PATH_BYTES // 2 + 1),
    "/%ff%fe",
    "/a/%c0%af",
    "/a/%ed%a0%80",
    "/loop1",
    "/loop1/index.html",
]


def request(
    url: str, path: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """`method path` sent as is to the server at `url`."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def stopped_output(server) -> str:
    """All the server printed: read after it ended, as it may log an error after replying."""
    server.process.terminate()
    server.process.wait(timeout=10)
    return server.output()


@pytest.fixture
def site(tmp_path) -> Path:
    """A small site whose neighbours and dot files a wrong path would reach."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside" / "x.js.br").write_bytes(SECRET)
    root = tmp_path / "site"
    for name, text in {
        "index.html": "<!doctype html><title>t</title>\n",
        "bundle.json": '{"format": 1, "release": "r1", "assets": {}}\n',
        "x.js": "console.log(1);\n",
        "a/b.txt": "b\n",
        "a/index.html": "a\n",
        "a/.hidden": "hidden\n",
        ".git/config": "[core]\n",
        ".env": "TOKEN=1\n",
        ".well-known/security.txt": "Contact: mailto:security@example.com\n",
        ".well-known/.hidden": "hidden\n",
        "leaks/.keep": "",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    links = {
        "loop1": "loop2",
        "loop2": "loop1",
        "inside.txt": "a/b.txt",
        "out.txt": "../outside/secret.txt",
        "dot.txt": ".git/config",
        "x.js.br": "../outside/x.js.br",
        "leaks/index.html": "../../outside/secret.txt",
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    return root


def test_odd_paths_are_plain_404s_with_the_security_headers(site):
    with serve_subprocess(site) as server:
        assert request(server.url, "/a/b.txt")[0] == 200
        wrong = []
        for path in ODD_PATHS:
            status, headers, body = request(server.url, path)
            missing = [name for name in SECURITY_HEADERS if name not in headers]
            if status != 404 or missing or SECRET in body:
                wrong.append((path[:60], status, missing))
        output = stopped_output(server)
    assert wrong == []
    assert "Traceback" not in output and "ERROR" not in output, output


def test_dot_names_are_not_served_but_well_known_is(site):
    with serve_subprocess(site) as server:
        for path in ("/.git/config", "/.env", "/a/.hidden", "/.well-known/.hidden", "/dot.txt"):
            assert request(server.url, path)[0] == 404, path
        status, headers, body = request(server.url, "/.well-known/security.txt")
        assert status == 200 and body.startswith(b"Contact:")
        assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_no_symlink_leads_out_of_the_site_not_even_a_precompressed_copy(site):
    with serve_subprocess(site) as server:
        assert request(server.url, "/inside.txt")[2] == b"b\n"
        assert request(server.url, "/out.txt")[0] == 404
        assert request(server.url, "/leaks/")[0] == 404
        assert request(server.url, "/x.js.br")[0] == 404
        status, headers, body = request(server.url, "/x.js", headers={"Accept-Encoding": "br"})
        assert status == 200 and body == b"console.log(1);\n"
        assert "Content-Encoding" not in headers and "Vary" not in headers


def test_another_method_is_405_with_the_security_headers(site):
    with serve_subprocess(site) as server:
        status, headers, _ = request(server.url, "/index.html", method="POST")
    assert status == 405 and set(headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert all(name in headers for name in SECURITY_HEADERS)


COLLECTOR_PATHS = [
    *ODD_PATHS,
    "/v1%2fdrift",
    "/v1%2Fsummaries",
    "/v1/drift%00",
    "/healthz/.",
    "/v1/%2e%2e/healthz",
    "/%2e%2e/healthz",
    "/.git/config",
]


def test_the_collector_answers_odd_paths_with_a_json_404(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", wine_baseline())
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as collector:
        assert request(collector.url, "/v1/drift")[0] == 200
        wrong = []
        for path in COLLECTOR_PATHS:
            for method in ("GET", "POST"):
                status, _, body = request(collector.url, path, method)
                if status != 404 or not has_error(body):
                    wrong.append((method, path[:60], status))
        output = stopped_output(collector)
    assert wrong == []
    assert "Traceback" not in output and "ERROR" not in output, output


def has_error(body: bytes) -> bool:
    try:
        return "error" in json.loads(body)
    except ValueError:
        return False


def test_another_method_at_the_collector_is_a_json_405(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", wine_baseline())
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as collector:
        status, headers, body = request(collector.url, "/v1/summaries", "GET")
    assert status == 405 and headers["Allow"] == "POST"
    assert json.loads(body)["error"] == "GET is not allowed here; use POST."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", ("",)),
        (b"/a/", ("a", "")),
        (b"/a/b.txt", ("a", "b.txt")),
        (b"/caf%C3%A9.txt", ("café.txt",)),
        (b"/a%20b", ("a b",)),
        (b"/%25", ("%",)),
        (b"/a..b", ("a..b",)),
        (b"/%2e%2e", None),
        (b"/a/%2F", None),
        (b"/a/%5C", None),
        (b"/a%00", None),
        (b"/a%0a", None),
        (b"/a%7f", None),
        (b"a", None),
        (b"", None),
    ],
)
def test_request_paths_are_decoded_once_and_strictly(raw, expected):
    assert segments(raw) == expected


def test_the_raw_path_is_taken_below_the_mount_and_without_the_query():
    scope = {"path": "/sub/a/b", "raw_path": b"/sub/a%2fb?x=1", "root_path": "/sub"}
    assert raw_path_of(scope) == b"/a%2fb"
    assert raw_path_of({"path": "/a/b"}) == b"/a/b"
