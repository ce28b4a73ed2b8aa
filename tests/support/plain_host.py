"""A static host that sends MIME types and nothing else, as GitHub Pages does: no Content
Security Policy, COOP, COEP or CORP header, no precompressed variants, no caching rules."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.serving import Server


class MimeTypesOnly(SimpleHTTPRequestHandler):
    # Set as a host serving the web's MIME types would, whatever this machine's mimetypes says.
    extensions_map = {  # noqa: RUF012 (the base class declares it so)
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
    }
    requested: list[str]

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class PlainServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser dropped a request
            super().handle_error(request, client_address)


@contextlib.contextmanager
def plain_host(site: Path) -> Iterator[tuple[Server, list[str]]]:
    """`site` served by Python's http.server on 127.0.0.1, and the paths it was asked for."""
    requested: list[str] = []
    handler = type("Handler", (MimeTypesOnly,), {"requested": requested})
    with PlainServer(("127.0.0.1", 0), partial(handler, directory=str(site))) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield Server(f"http://127.0.0.1:{httpd.server_port}/"), requested
        finally:
            httpd.shutdown()
            thread.join(timeout=10)
