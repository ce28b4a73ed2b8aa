"""The hosting configs the build writes send what `staticml serve` sends, file by file.

`nginx.conf` runs in a real nginx on 127.0.0.1; `_headers` (Netlify, Cloudflare Pages, which
cannot run here) is read by the rules those hosts document: every matching rule applies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from staticml.stages.hosting import HEADERS_FILE, NGINX_FILE
from tests.support import free_port, wait_for_http
from tests.support.serving import Server

COMPARED = (
    "Content-Security-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Embedder-Policy",
    "Cross-Origin-Resource-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cache-Control",
    "Content-Type",
)
SECURITY = COMPARED[:6]


def site_urls(site: Path) -> list[str]:
    """Every URL of the site: each file (not its .br/.gz variants), and `/`."""
    files = [p for p in site.rglob("*") if p.is_file() and p.suffix not in (".br", ".gz")]
    return ["/", *sorted("/" + p.relative_to(site).as_posix() for p in files)]


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, lowered(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, lowered(error.headers.items()), error.read()


def lowered(items) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def compared(headers: dict[str, str], names: tuple[str, ...] = COMPARED) -> dict[str, str]:
    return {name: headers[name.lower()] for name in names if name.lower() in headers}


def header_rules(text: str) -> list[tuple[str, dict[str, str]]]:
    rules: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("/"):
            rules.append((line.strip(), {}))
        else:
            name, _, value = line.strip().partition(":")
            assert name not in rules[-1][1], f"{name} twice in the rule for {rules[-1][0]}"
            rules[-1][1][name] = value.strip()
    return rules


def headers_for(rules: list[tuple[str, dict[str, str]]], url: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for pattern, headers in rules:
        matches = url.startswith(pattern[:-1]) if pattern.endswith("*") else url == pattern
        if matches:
            for name, value in headers.items():
                # The hosts join a header two matching rules set; the build must not need that.
                assert name not in merged, f"{url}: {name} set by two rules"
                merged[name] = value
    return merged


def test_the_build_writes_both_configs(built_site):
    assert (built_site.path / HEADERS_FILE).is_file() and (built_site.path / NGINX_FILE).is_file()


def test_the_headers_file_gives_every_file_the_headers_staticml_serve_sends(server, built_site):
    rules = header_rules((built_site.path / HEADERS_FILE).read_text())
    for url in site_urls(built_site.path):
        status, served, _ = fetch(server.url.rstrip("/") + url)
        assert status == 200, url
        assert headers_for(rules, url) == compared(served), url


@contextlib.contextmanager
def nginx(site: Path, scratch: Path) -> Iterator[Server]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx not found: run ./dev test, which installs Debian's nginx")
    port = free_port()
    temp = [f"{kind}_temp_path {scratch / kind};" for kind in ("client_body", "proxy", "fastcgi")]
    temp += [f"{kind}_temp_path {scratch / kind};" for kind in ("uwsgi", "scgi")]
    conf = scratch / "nginx-test.conf"
    conf.write_text(
        "\n".join(
            [
                "daemon off;",
                "worker_processes 1;",
                f"pid {scratch / 'nginx.pid'};",
                f"error_log {scratch / 'error.log'};",
                # The site is under pytest's private temporary folder: workers read it as we do.
                "user root;" if os.geteuid() == 0 else "",
                "events { worker_connections 64; }",
                "http {",
                "  access_log off;",
                *temp,
                f"  server {{ listen 127.0.0.1:{port}; root {site};",
                f"    include {site / NGINX_FILE}; }}",
                "}",
            ]
        )
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(scratch), "-e", str(scratch / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_for_http(url + "bundle.json", process, seconds=20)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{(scratch / 'error.log').read_text()}") from exc
        yield Server(url, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def nginx_server(built_site, tmp_path_factory) -> Iterator[Server]:
    with nginx(built_site.path, tmp_path_factory.mktemp("nginx")) as running:
        yield running


def test_nginx_with_the_snippet_sends_every_file_as_staticml_serve_does(
    server, nginx_server, built_site
):
    for url in site_urls(built_site.path):
        status, ours, body = fetch(server.url.rstrip("/") + url)
        nginx_status, theirs, nginx_body = fetch(nginx_server.url.rstrip("/") + url)
        assert (nginx_status, nginx_body) == (status, body), url
        assert compared(theirs) == compared(ours), url


def test_nginx_serves_the_precompressed_gzip_variants(server, nginx_server, built_site):
    variants = [p for p in built_site.path.rglob("*.gz")]
    assert variants
    for variant in variants:
        url = "/" + variant.relative_to(built_site.path).as_posix().removesuffix(".gz")
        _, ours, body = fetch(server.url.rstrip("/") + url, **{"Accept-Encoding": "gzip"})
        _, theirs, nginx_body = fetch(
            nginx_server.url.rstrip("/") + url, **{"Accept-Encoding": "gzip"}
        )
        assert theirs.get("content-encoding") == ours.get("content-encoding") == "gzip", url
        assert nginx_body == body == variant.read_bytes(), url


def test_a_missing_file_carries_the_security_headers_on_both(server, nginx_server):
    status, ours, _ = fetch(server.url + "no/such/file.js")
    nginx_status, theirs, _ = fetch(nginx_server.url + "no/such/file.js")
    assert status == nginx_status == 404
    assert compared(theirs, SECURITY) == compared(ours, SECURITY)
    assert len(compared(ours, SECURITY)) == len(SECURITY)
