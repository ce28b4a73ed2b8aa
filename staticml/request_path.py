"""Request paths, decoded once and strictly, for the servers that map them to something.

A path reaches an app still percent-encoded in the ASGI scope's `raw_path`; the decoded `path`
beside it has already lost the difference between `/` and `%2f`, and replaced invalid UTF-8.
`segments` reads the raw form and refuses every spelling that a file server (or a router
matching on the decoded path) could take for something it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255  # NAME_MAX of Linux, macOS and Windows file systems
_SEPARATORS = (b"%2f", b"%5c", b"\\")


def segments(raw_path: bytes) -> tuple[str, ...] | None:
    """The decoded names of `/a/b/c` (`("a", "b", "c")`; a trailing `/` gives a last `""`), or
    None when the path is not one a site could have: not absolute, an encoded or backslash
    separator, invalid UTF-8, a control character (NUL included), a `.` or `..` name, an empty
    name inside it (`a//b`), a name over MAX_NAME_BYTES or a whole over MAX_PATH_BYTES."""
    if not raw_path.startswith(b"/") or any(s in raw_path.lower() for s in _SEPARATORS):
        return None
    decoded = unquote_to_bytes(raw_path[1:])
    if len(decoded) > MAX_PATH_BYTES:
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    names = tuple(text.split("/"))
    if any(_bad_name(name) for name in names[:-1]) or _bad_name(names[-1], last=True):
        return None
    return names


def _bad_name(name: str, *, last: bool = False) -> bool:
    if name in (".", ".."):
        return True
    if not name:
        return not last
    return len(name.encode("utf-8")) > MAX_NAME_BYTES


def raw_path_of(scope: Mapping[str, Any]) -> bytes:
    """The still-encoded path of an ASGI request below the app's `root_path` (a Mount's
    prefix, uvicorn's `--root-path`), without its query. `raw_path` is optional in ASGI
    (uvicorn and Starlette's test client set it); without it only the decoded path is left,
    in which an encoded separator can no longer be told from a real one."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes):
        raw = str(scope.get("path", "")).encode("utf-8", "surrogateescape")
    raw = raw.split(b"?", 1)[0]
    prefix = str(scope.get("root_path", "")).encode("utf-8", "surrogateescape")
    return raw[len(prefix) :] if prefix and raw.startswith(prefix) else raw
