"""A recording HTTP proxy for the Firefox and WebKit tests (tests/support/engines.py): every
request an engine makes, from the page, its workers or its service worker, goes through it.

It forwards only to the site's origin and answers anything else 502 without sending it on, so a
request meant for another origin is recorded (`foreign`) and goes nowhere. To every response
that carries a Content Security Policy it adds the same policy as report-only with a
`report-uri` of its own, so the engine's violations, the workers' included, arrive here
(`violations`) without the enforced policy changing.

Set `Recorded.offline` and it answers nothing, closing each connection as it comes (what an
engine sees when the network is gone); the requests it dropped are kept (`unanswered`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

REPORTS = "/__csp-reports__"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Recorded:
    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    offline: bool = False
    unanswered: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, url: str, foreign: bool) -> None:
        with self.lock:
            self.requests.append(url)
            if foreign:
                self.foreign.append(url)


def _handler(recorded: Recorded) -> type[BaseHTTPRequestHandler]:
    origin = urlsplit(recorded.origin)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_CONNECT(self) -> None:
            recorded.note(f"https://{self.path}", foreign=True)
            if not self._dropped(f"https://{self.path}"):
                self._refuse()

        def _dropped(self, url: str) -> bool:
            """Offline: nothing is answered, the connection closes."""
            if not recorded.offline:
                return False
            with recorded.lock:
                recorded.unanswered.append(url)
            self.close_connection = True
            return True

        def _refuse(self) -> None:
            self.send_response(502, "staticml's test proxy sends nothing off the origin")
            self.send_header("content-length", "0")
            self.end_headers()

        def _forward(self) -> None:
            try:
                self._answer()
            except (ConnectionError, TimeoutError, http.client.HTTPException):
                # The engine gave up on the request (its page closed), or the site's server
                # stopped while the engine was still downloading (its test was over).
                self.close_connection = True

        def _answer(self) -> None:
            target = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            foreign = (target.scheme, target.netloc) != (origin.scheme, origin.netloc)
            recorded.note(self.path, foreign=foreign)
            if self._dropped(self.path):
                return
            if foreign:
                self._refuse()
                return
            if target.path == REPORTS:
                with recorded.lock:
                    recorded.violations.append(json.loads(body or b"{}"))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self._relay(target, body)

        def _relay(self, target, body: bytes | None) -> None:
            path = target.path + (f"?{target.query}" if target.query else "")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection(origin.hostname, origin.port, timeout=60)
            try:
                upstream.request(self.command, path, body=body, headers=headers)
                with upstream.getresponse() as response:
                    content = response.read()
            finally:
                upstream.close()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                    continue
                self.send_header(name, value)
                if name.lower() == "content-security-policy":
                    self.send_header(
                        "content-security-policy-report-only", f"{value}; report-uri {REPORTS}"
                    )
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _forward

    return Forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """An engine dropping a kept-alive connection is not an error of the proxy."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def recording_proxy(origin: str) -> Iterator[tuple[int, Recorded]]:
    """A proxy on a free port of 127.0.0.1 forwarding to `origin` only: (its port, what it saw)."""
    recorded = Recorded(origin.rstrip("/"))
    server = _Server(("127.0.0.1", 0), _handler(recorded))
    thread = threading.Thread(target=server.serve_forever, name="recording-proxy", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], recorded
    finally:
        server.shutdown()
        server.server_close()
