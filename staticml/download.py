"""One file over HTTP(S), resumed where a cut connection left it, checked against an integrity.

The bytes go to a `.part` file beside the target. When the connection drops, the next attempt
asks for the rest (`Range: bytes=N-`); a server that answers with the whole file instead
(200) starts it over. Only when the whole file matches its integrity (an npm-style
`sha512-<base64>`) is it renamed to the target; a file that does not match is deleted and
refused by name. Standard library only (urllib): no npm, no extra dependency.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from staticml.errors import AssetError
from staticml.progress import Reporter
from staticml.version import __version__

CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30
# Consecutive attempts that received nothing; an attempt that received bytes resets the count.
ATTEMPTS = 3
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class Unreachable(AssetError):
    """No attempt could reach the server, or every retry after a cut connection failed."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url} could not be downloaded: {reason}")
        self.url, self.reason = url, reason


@dataclass(frozen=True)
class Download:
    url: str
    integrity: str  # "sha512-<base64 digest>", as npm's package-lock.json writes it
    label: str  # what the progress bar and the errors call it, e.g. "pyodide 314.0.7"


def download(item: Download, target: Path, reporter: Reporter) -> Path:
    """`item` saved as `target` once its bytes match `item.integrity`; resumes a `.part` file."""
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = 0
    while True:
        before = _size(part)
        try:
            if _attempt(item, part, reporter):
                break
        except (OSError, http.client.HTTPException) as exc:
            failures = 0 if _size(part) > before else failures + 1
            if failures >= ATTEMPTS:
                raise Unreachable(item.url, _reason(exc)) from exc
            time.sleep(0.2 * 2**failures)
    _check_integrity(item, part)
    os.replace(part, target)
    return target


def _attempt(item: Download, part: Path, reporter: Reporter) -> bool:
    """One request; True when the whole file is in `part`. Raises on a cut connection."""
    have = _size(part)
    headers = {"User-Agent": f"staticml/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(item.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response, and so the socket
        if exc.code == 416 and have:  # the part is complete already, or not this file's
            part.unlink()
            return False
        raise AssetError(
            f"{item.url} answered HTTP {exc.code} {exc.reason}, so {item.label} could not be "
            "downloaded: check the registry address (STATICML_NPM_REGISTRY) and that it has "
            "this version."
        ) from exc
    with response:
        start, total = _span(response, have)
        _show(item, reporter, start, total)
        received = start
        with part.open("ab" if start else "wb") as out:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                reporter.advance(_kb(received + len(chunk)) - _kb(received))
                received += len(chunk)
    if total is not None and received < total:
        raise http.client.IncompleteRead(b"", total - received)
    return True


def _span(response: http.client.HTTPResponse, have: int) -> tuple[int, int | None]:
    """Where this response's bytes start in the file, and the file's length if known."""
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match and int(match[1]) == have:
            return have, None if match[3] == "*" else int(match[3])
        raise http.client.HTTPException(f"a partial answer for another range ({match})")
    length = response.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _show(item: Download, reporter: Reporter, start: int, total: int | None) -> None:
    size = f", {total / 1e6:.1f} MB" if total else ""
    reporter.stage(f"Downloading {item.label} (kB{size})", total=_kb(total) if total else None)
    if start:
        reporter.advance(_kb(start))


def _check_integrity(item: Download, part: Path) -> None:
    algorithm, _, expected = item.integrity.partition("-")
    digest = hashlib.new(algorithm)
    with part.open("rb") as data:
        while block := data.read(1 << 20):
            digest.update(block)
    found = base64.b64encode(digest.digest()).decode()
    if found != expected:
        size = _size(part)
        part.unlink()
        raise AssetError(
            f"the download of {item.label} from {item.url} ({size} bytes) is not the tarball "
            f"staticml pins: its integrity is {algorithm}-{found}, expected {item.integrity}. "
            "It was refused and nothing was cached. The download was cut short or changed on "
            "the way (a proxy, a mirror that serves other files); try again, or use a "
            "node_modules you trust through STATICML_NODE_MODULES."
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _kb(size: int) -> int:
    return size // 1000


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, http.client.IncompleteRead):
        return f"the connection closed with {exc.expected} bytes still to come"
    return str(exc) or type(exc).__name__
