"""Where summaries go: merged counts per (release, hour, variable, bin), behind one class.

Merging is addition, done by the database as an atomic UPSERT inside one transaction per
batch of summaries (`add_many`; `add` is a batch of one), so summaries may arrive in any
order, from any number of collector processes, and `add` returning means the summary is
committed. Nothing about the sender is stored: there is
no column for it.

Two backends share the SQL here: `SQLiteStore` and `postgres.PostgresStore`; `stores.open_store`
picks one by URL.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from staticml.collector.errors import StorageUnavailable
from staticml.collector.rollout import RolloutSummary
from staticml.collector.validate import HOUR_FORMAT, Summary
from staticml.errors import CollectorError

log = logging.getLogger("staticml.collector")

MISSING_BIN = -1
OUTPUT = "output"
FEATURE_PREFIX = "feature:"
CONFIDENCE = "confidence"
# Bin 0 of this variable sums, over a window's noised summaries, the variance of the noise on
# each confidence count, in millionths (an integer, so merging stays addition).
CONFIDENCE_NOISE = "confidence:noise"
NOISE_SCALE = 1_000_000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS staticml_counts (
        release TEXT NOT NULL, hour TEXT NOT NULL, variable TEXT NOT NULL, bin INTEGER NOT NULL,
        count BIGINT NOT NULL, PRIMARY KEY (release, hour, variable, bin))""",
    """CREATE TABLE IF NOT EXISTS staticml_hours (
        release TEXT NOT NULL, hour TEXT NOT NULL, n BIGINT NOT NULL, summaries BIGINT NOT NULL,
        dp_summaries BIGINT NOT NULL, PRIMARY KEY (release, hour))""",
    """CREATE TABLE IF NOT EXISTS staticml_baselines (
        release TEXT PRIMARY KEY, baseline TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS staticml_rollout (
        release TEXT NOT NULL, hour TEXT NOT NULL, metric TEXT NOT NULL, count BIGINT NOT NULL,
        PRIMARY KEY (release, hour, metric))""",
    """CREATE TABLE IF NOT EXISTS staticml_seen (
        id TEXT PRIMARY KEY, hour TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS staticml_seen_hour ON staticml_seen (hour)",
    # The rollout report sums every release over a window of hours: without this (covering)
    # index that is a scan of the whole table, all releases and hours.
    """CREATE INDEX IF NOT EXISTS staticml_rollout_hour
        ON staticml_rollout (hour, release, metric, count)""",
)
# A summary's id (feature and rollout summaries share the table) is remembered while its hour is
# less than this old (by the newest hour added), so that a page's repeat is merged once.
SEEN_HOURS = 7 * 24
ADD_COUNT = """INSERT INTO staticml_counts (release, hour, variable, bin, count)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (release, hour, variable, bin)
    DO UPDATE SET count = staticml_counts.count + excluded.count"""
ADD_HOUR = """INSERT INTO staticml_hours (release, hour, n, summaries, dp_summaries)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (release, hour) DO UPDATE SET
    n = staticml_hours.n + excluded.n,
    summaries = staticml_hours.summaries + excluded.summaries,
    dp_summaries = staticml_hours.dp_summaries + excluded.dp_summaries"""
SAVE_BASELINE = """INSERT INTO staticml_baselines (release, baseline) VALUES (?, ?)
    ON CONFLICT (release) DO NOTHING"""
READ_COUNTS = """SELECT hour, variable, bin, count FROM staticml_counts
    WHERE release = ? AND hour >= ? AND hour < ?"""
# The reports read sums over windows: the primary keys' (release, hour) prefix finds the rows.
SUM_COUNTS = """SELECT variable, bin, SUM(count) FROM staticml_counts
    WHERE release = ? AND hour >= ? AND hour < ? GROUP BY variable, bin"""
SUM_HOURS = """SELECT SUM(n), SUM(summaries), SUM(dp_summaries) FROM staticml_hours
    WHERE release = ? AND hour >= ? AND hour < ?"""
READ_HOURS = """SELECT hour, n, summaries, dp_summaries FROM staticml_hours
    WHERE release = ? AND hour >= ? AND hour < ?"""
MARK_SEEN = (
    "INSERT INTO staticml_seen (id, hour) VALUES {values} ON CONFLICT (id) DO NOTHING RETURNING id"
)
FORGET_SEEN = "DELETE FROM staticml_seen WHERE hour < ?"
READ_BASELINES = "SELECT release, baseline FROM staticml_baselines"
ADD_ROLLOUT = """INSERT INTO staticml_rollout (release, hour, metric, count) VALUES (?, ?, ?, ?)
    ON CONFLICT (release, hour, metric) DO UPDATE SET count = staticml_rollout.count + excluded.count"""
READ_ROLLOUT = """SELECT release, metric, SUM(count) FROM staticml_rollout
    WHERE hour >= ? AND hour < ? GROUP BY release, metric"""


@dataclass(frozen=True)
class HourTally:
    """What was merged for one release and hour: `cells[(variable, bin)]` is a count."""

    hour: str
    n: int
    summaries: int
    dp_summaries: int
    cells: Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class Total:
    """What was merged for one release over the hours from `start` to `end` (excluded)."""

    start: str
    end: str
    n: int
    summaries: int
    dp_summaries: int
    cells: Mapping[tuple[str, int], int]


def total_of(tallies: Sequence[HourTally], start: str, end: str) -> Total:
    """The `Total` of the hourly `tallies` from `start` to `end` (excluded)."""
    inside = [t for t in tallies if start <= t.hour < end]
    cells: dict[tuple[str, int], int] = {}
    for tally in inside:
        for key, count in tally.cells.items():
            cells[key] = cells.get(key, 0) + count
    return Total(
        start,
        end,
        sum(t.n for t in inside),
        sum(t.summaries for t in inside),
        sum(t.dp_summaries for t in inside),
        cells,
    )


class Store(Protocol):
    writers: int  # how many transactions it runs at once (each on a connection of its own)

    def add(self, summary: Summary) -> bool:
        """Merge one summary; returns only once it is committed. False: its id was already
        merged (a repeat), and nothing was written."""

    def add_many(self, summaries: Sequence[Summary]) -> list[bool]:
        """Merge `summaries` in one transaction; returns once it is committed, for each
        summary whether it was new. On a failure nothing of them is written."""

    def read(self, release: str, start: str, end: str) -> list[HourTally]:
        """The tallies of `release` for the hours from `start` (included) to `end` (excluded)."""

    def read_totals(self, release: str, spans: Sequence[tuple[str, str]]) -> list[Total]:
        """The totals of `release` over each (start, end excluded) span, read in one
        transaction and summed by the database (a report reads weeks of hours)."""

    def add_rollout(self, summary: RolloutSummary) -> bool:
        """Merge one rollout summary (shadow and feedback counts); returns once committed.
        False: its id was already merged (a repeat), and nothing was written."""

    def read_rollout(self, start: str, end: str) -> list[tuple[str, str, int]]:
        """(release, metric, count) summed over the hours from `start` to `end` (excluded)."""

    def save_baseline(self, release: str, baseline: str) -> None:
        """Remember a release's baseline JSON (the first one saved for a release stays)."""

    def baselines(self) -> dict[str, str]:
        """Every saved baseline JSON by release."""

    def ping(self) -> None:
        """Raise StorageUnavailable when the database cannot answer."""

    def close(self) -> None: ...


def feature_key(name: str) -> str:
    return FEATURE_PREFIX + name


def summary_rows(summary: Summary) -> list[tuple[str, int, int]]:
    """(variable, bin, count) for every non-zero count, in one fixed order (no lock cycles)."""
    parts = [(feature_key(name), counts) for name, counts in summary.features]
    parts.append((OUTPUT, summary.output))
    if summary.confidence is not None:
        parts.append((CONFIDENCE, summary.confidence))
    rows: list[tuple[str, int, int]] = []
    for variable, counts in parts:
        cells = [*enumerate(counts.counts), (MISSING_BIN, counts.missing)]
        rows.extend((variable, b, c) for b, c in cells if c != 0)
    if summary.confidence is not None and summary.epsilon is not None:
        rows.append((CONFIDENCE_NOISE, 0, round(NOISE_SCALE * noise_variance(summary.epsilon))))
    return rows


def noise_variance(epsilon: float) -> float:
    """The variance of two-sided geometric noise with parameter ε: 2a/(1-a)², a = exp(-ε)."""
    alpha = math.exp(-epsilon)
    return 2 * alpha / (1 - alpha) ** 2


def merged_rows(
    summaries: Sequence[Summary],
) -> tuple[list[tuple[str, str, str, int, int]], list[tuple[str, str, int, int, int]]]:
    """The count rows (release, hour, variable, bin, count) and hour rows (release, hour, n,
    summaries, dp_summaries) of `summaries`, summed per key and sorted by it."""
    counts: dict[tuple[str, str, str, int], int] = {}
    hours: dict[tuple[str, str], tuple[int, int, int]] = {}
    for summary in summaries:
        for variable, bin_, count in summary_rows(summary):
            key = (summary.release, summary.hour, variable, bin_)
            counts[key] = counts.get(key, 0) + count
        n, many, dp = hours.get((summary.release, summary.hour), (0, 0, 0))
        hours[(summary.release, summary.hour)] = (n + summary.n, many + 1, dp + int(summary.dp))
    return (
        [(*key, count) for key, count in sorted(counts.items())],
        [(*key, *tally) for key, tally in sorted(hours.items())],
    )


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class SQLStore:
    """The SQL both backends share; subclasses provide a transaction yielding a cursor."""

    placeholder = "?"
    writers = 1
    _seen_since = ""  # ids of hours before this one are already forgotten

    def _transaction(self, write: bool) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)

    def _create_schema(self) -> None:
        with self._transaction(write=True) as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)

    def add(self, summary: Summary) -> bool:
        return self.add_many([summary])[0]

    def add_many(self, summaries: Sequence[Summary]) -> list[bool]:
        """Merge `summaries` in one transaction (one commit); for each, whether it was new.

        Ids are marked in one statement, and the batch's counts written summed per key, each in
        sorted order, so concurrent batches of several collectors never wait on each other in a
        cycle.
        """
        with self._transaction(write=True) as cursor:
            fresh = self._first_times(cursor, [(s.id, s.hour) for s in summaries])
            counts, hours = merged_rows([s for s, new in zip(summaries, fresh, strict=True) if new])
            self._merge(cursor, counts, hours)
        return fresh

    def _merge(
        self,
        cursor: Any,
        counts: Sequence[tuple[str, str, str, int, int]],
        hours: Sequence[tuple[str, str, int, int, int]],
    ) -> None:
        """Add the (sorted) count and hour rows of a batch, in the caller's transaction."""
        cursor.executemany(self._sql(ADD_COUNT), counts)
        cursor.executemany(self._sql(ADD_HOUR), hours)

    def _first_times(self, cursor: Any, marks: Sequence[tuple[str | None, str]]) -> list[bool]:
        """Remember the `(id, hour)` marks in one statement of the caller's transaction; for
        each, whether it is new: no id, or one neither merged before nor earlier in `marks`."""
        hours: dict[str, str] = {}
        for summary_id, hour in marks:
            if summary_id is not None:
                hours.setdefault(summary_id, hour)
        inserted: set[str] = set()
        if hours:
            self._forget_old_ids(cursor, max(hours.values()))
            ids = sorted(hours)
            cursor.execute(
                self._sql(MARK_SEEN.format(values=", ".join(["(?, ?)"] * len(ids)))),
                [value for summary_id in ids for value in (summary_id, hours[summary_id])],
            )
            inserted = {str(row[0]) for row in cursor.fetchall()}
        fresh = []
        for summary_id, _ in marks:
            fresh.append(summary_id is None or summary_id in inserted)
            inserted.discard(summary_id or "")
        return fresh

    def _forget_old_ids(self, cursor: Any, hour: str) -> None:
        since = seen_since(hour)
        if since > self._seen_since:
            cursor.execute(self._sql(FORGET_SEEN), (since,))
            self._seen_since = since

    def read(self, release: str, start: str, end: str) -> list[HourTally]:
        with self._transaction(write=False) as cursor:
            cursor.execute(self._sql(READ_COUNTS), (release, start, end))
            counts = cursor.fetchall()
            cursor.execute(self._sql(READ_HOURS), (release, start, end))
            hours = cursor.fetchall()
        return _tallies(counts, hours)

    def read_totals(self, release: str, spans: Sequence[tuple[str, str]]) -> list[Total]:
        totals = []
        with self._transaction(write=False) as cursor:
            for start, end in spans:
                cursor.execute(self._sql(SUM_HOURS), (release, start, end))
                n, summaries, dp = cursor.fetchone()
                cursor.execute(self._sql(SUM_COUNTS), (release, start, end))
                cells = {(str(v), int(b)): int(c) for v, b, c in cursor.fetchall()}
                totals.append(
                    Total(start, end, int(n or 0), int(summaries or 0), int(dp or 0), cells)
                )
        return totals

    def add_rollout(self, summary: RolloutSummary) -> bool:
        rows = [(summary.release, summary.hour, metric, count) for metric, count in summary.cells]
        with self._transaction(write=True) as cursor:
            if not self._first_times(cursor, [(summary.id, summary.hour)])[0]:
                return False
            cursor.executemany(self._sql(ADD_ROLLOUT), rows)
        return True

    def read_rollout(self, start: str, end: str) -> list[tuple[str, str, int]]:
        with self._transaction(write=False) as cursor:
            cursor.execute(self._sql(READ_ROLLOUT), (start, end))
            return [(str(r), str(m), int(c)) for r, m, c in cursor.fetchall()]

    def save_baseline(self, release: str, baseline: str) -> None:
        with self._transaction(write=True) as cursor:
            cursor.execute(self._sql(SAVE_BASELINE), (release, baseline))

    def baselines(self) -> dict[str, str]:
        with self._transaction(write=False) as cursor:
            cursor.execute(READ_BASELINES)
            return {release: baseline for release, baseline in cursor.fetchall()}

    def ping(self) -> None:
        with self._transaction(write=False) as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()


def seen_since(hour: str) -> str:
    """The oldest hour whose summary ids are still remembered once `hour` was added."""
    start = datetime.strptime(hour, HOUR_FORMAT) - timedelta(hours=SEEN_HOURS)
    return start.strftime(HOUR_FORMAT)


def _tallies(counts: Sequence[Sequence[Any]], hours: Sequence[Sequence[Any]]) -> list[HourTally]:
    cells: dict[str, dict[tuple[str, int], int]] = {}
    for hour, variable, bin_, count in counts:
        cells.setdefault(hour, {})[(variable, int(bin_))] = int(count)
    return [
        HourTally(hour, int(n), int(summaries), int(dp), cells.get(hour, {}))
        for hour, n, summaries, dp in sorted(hours, key=lambda row: row[0])
    ]


# What the operator can do about the SQLite failures that are not a bug (by error name prefix).
_SQLITE_FIXES = {
    "SQLITE_FULL": "the disk (or the filesystem's quota) is full; free space and summaries are "
    "accepted again (until then senders keep them and retry)",
    "SQLITE_READONLY": "it is read-only; make the file, its folder and the filesystem writable "
    "for the collector",
    "SQLITE_CANTOPEN": "the file cannot be opened; check that the folder exists and is writable",
    "SQLITE_IOERR": "the disk reported an I/O error; check the disk and that it is writable",
    "SQLITE_BUSY": "another process holds it locked; retry, or stop the other writer",
}


def sqlite_failure(path: str, error: sqlite3.Error) -> str:
    """A message naming the database, what failed and, when known, the fix."""
    name = getattr(error, "sqlite_errorname", "")
    fix = next((text for prefix, text in _SQLITE_FIXES.items() if name.startswith(prefix)), None)
    return (
        f"The database {path} failed ({error}): {fix}."
        if fix
        else f"The database {path} failed: {error}."
    )


class SQLiteStore(SQLStore):
    """One SQLite file in WAL mode with synchronous=FULL: a commit survives a killed process."""

    def __init__(self, path: str) -> None:
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise CollectorError(
                f"Cannot create the database {path}: its folder does not exist. Create it or "
                "give --db another path."
            )
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._create_schema()
        except sqlite3.Error as exc:
            raise CollectorError(f"Cannot open the database: {sqlite_failure(path, exc)}") from exc
        except StorageUnavailable as exc:
            raise CollectorError(f"Cannot open the database: {exc}") from exc

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            try:
                cursor = self._db.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    yield cursor
                    cursor.execute("COMMIT")
                finally:
                    cursor.close()
            except sqlite3.Error as exc:
                self._rollback()
                message = sqlite_failure(self.path, exc)
                log.error("%s", message)
                raise StorageUnavailable(message) from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._db.in_transaction:
                self._db.rollback()

    def close(self) -> None:
        with self._lock:
            self._db.close()
