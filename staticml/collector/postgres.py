"""The PostgreSQL store (`pip install 'staticml[postgres]'`): several collectors, one database.

`CONNECTIONS` connections per store, each used by one transaction at a time and reopened
after a failure: a collector commits that many batches at once (the server groups their WAL
flushes), and more concurrency comes from running several collector processes. Merging stays correct across them because each
count is added by `INSERT ... ON CONFLICT DO UPDATE` and every summary's rows are written in
the same order, so concurrent transactions never wait on each other in a cycle.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from staticml.collector.errors import StorageUnavailable
from staticml.collector.storage import SCHEMA, SQLStore, log, redact
from staticml.errors import CollectorError

CONNECT_TIMEOUT = 10
CONNECTIONS = 2
# A batch's rows go as one array per column, one statement per table: an INSERT per row costs
# a round trip and a plan each (ordinality keeps the rows' sorted order, against lock cycles).
ADD_COUNTS = """INSERT INTO staticml_counts (release, hour, variable, bin, count)
    SELECT release, hour, variable, bin, count FROM unnest(
        %s::text[], %s::text[], %s::text[], %s::integer[], %s::bigint[]
    ) WITH ORDINALITY AS r (release, hour, variable, bin, count, i) ORDER BY i
    ON CONFLICT (release, hour, variable, bin)
    DO UPDATE SET count = staticml_counts.count + excluded.count"""
ADD_HOURS = """INSERT INTO staticml_hours (release, hour, n, summaries, dp_summaries)
    SELECT release, hour, n, summaries, dp_summaries FROM unnest(
        %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[]
    ) WITH ORDINALITY AS r (release, hour, n, summaries, dp_summaries, i) ORDER BY i
    ON CONFLICT (release, hour) DO UPDATE SET
    n = staticml_hours.n + excluded.n,
    summaries = staticml_hours.summaries + excluded.summaries,
    dp_summaries = staticml_hours.dp_summaries + excluded.dp_summaries"""
# Serialises schema creation when several collectors start at once.
SCHEMA_LOCK = 0x5747_1C01


class PostgresStore(SQLStore):
    placeholder = "%s"
    writers = CONNECTIONS

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise CollectorError(
                "PostgreSQL support needs psycopg: pip install 'staticml[postgres]'."
            ) from exc
        self._psycopg = psycopg
        self.url = url
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(CONNECTIONS):
            self._idle.put(None)  # a free place for a connection, opened when first needed
        try:
            with self._transaction(write=True) as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in SCHEMA:
                    cursor.execute(statement)
        except StorageUnavailable as exc:
            self.close()
            raise CollectorError(
                f"Cannot use the database {redact(url)}: {exc.__cause__}. Check the URL and that "
                "the server runs and accepts this user."
            ) from exc

    def _connect(self, connection: Any) -> Any:
        if connection is None or connection.closed:
            connection = self._psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        return connection

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Any]:
        connection = self._idle.get()
        try:
            connection = self._connect(connection)
            with connection.transaction(), connection.cursor() as cursor:
                if not write:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield cursor
        except self._psycopg.Error as exc:
            _close(connection)
            connection = None
            log.error("PostgreSQL %s failed: %s", redact(self.url), exc)
            raise StorageUnavailable(f"The database failed: {exc}.") from exc
        finally:
            self._idle.put(connection)

    def _merge(
        self,
        cursor: Any,
        counts: Sequence[tuple[str, str, str, int, int]],
        hours: Sequence[tuple[str, str, int, int, int]],
    ) -> None:
        for statement, rows in ((ADD_COUNTS, counts), (ADD_HOURS, hours)):
            if rows:
                cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])

    def close(self) -> None:
        """Close every connection, once the transactions in progress have ended."""
        places = [self._idle.get() for _ in range(CONNECTIONS)]
        for connection in places:
            _close(connection)
            self._idle.put(None)


def _close(connection: Any) -> None:
    if connection is not None:
        connection.close()
