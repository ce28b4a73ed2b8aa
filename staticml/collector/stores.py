"""The store a database URL names: `sqlite:///PATH` (the zero-setup default) or
`postgresql://...` (several collector processes sharing one database; `staticml[postgres]`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from staticml.collector.storage import SQLiteStore, Store, redact
from staticml.errors import CollectorError


def open_store(url: str) -> Store:
    """The store a database URL names, with its tables created."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from staticml.collector.postgres import PostgresStore

        return PostgresStore(url)
    raise CollectorError(
        f"Database URL {redact(url)!r} is not supported: use sqlite:///PATH (a file, created "
        "if missing) or postgresql://USER@HOST/DATABASE."
    )


def _sqlite_path(url: str) -> str:
    prefix = "sqlite:///"
    path = url[len(prefix) :] if url.startswith(prefix) else ""
    if not path:
        raise CollectorError(
            f"Database URL {url!r} names no file: write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )
    return path
