"""A stand-in for the npm registry on 127.0.0.1: real HTTP, tarballs the tests make, and the
faults a real network has (a connection cut part-way, a file changed on the way).

`npm_tarball` packs files as npm does (under `package/`), and `integrity` gives the sha512 that
package-lock.json would pin for it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def npm_tarball(files: dict[str, bytes]) -> bytes:
    """A gzipped tarball holding `files` (paths inside the package) under `package/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@dataclass
class Registry:
    """What the server serves (`files`, by URL path), the faults it injects, what it was asked."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    # path -> bytes to send of the first answer for it, which still announces the full length
    cut_after: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)


_RANGE = re.compile(r"bytes=(\d+)-")


def _handler(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked = self.headers.get("Range")
            registry.requests.append((self.path, asked))
            data = registry.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            start = int(m[1]) if asked and (m := _RANGE.fullmatch(asked)) else 0
            if start >= len(data) > 0:
                self.send_error(416)
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            body = data[start:]
            cut = registry.cut_after.pop(self.path, None)
            self.wfile.write(body if cut is None else body[:cut])
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def local_registry(registry: Registry | None = None) -> Iterator[Registry]:
    """`registry` served on a free port of 127.0.0.1 until the block ends."""
    registry = registry or Registry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    registry.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
