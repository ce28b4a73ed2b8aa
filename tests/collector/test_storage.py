"""Storage, on SQLite and on a real PostgreSQL: merging is addition, in any order, concurrently."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticml.collector import storage
from staticml.collector.errors import StorageUnavailable
from staticml.collector.storage import HourTally, Total, redact, summary_rows, total_of
from staticml.collector.stores import open_store
from staticml.collector.validate import Summary, parse_summary
from staticml.errors import CollectorError
from tests.support import free_port
from tests.support.collector import HOUR, RELEASE, body, wine_baseline, wine_summary
from tests.support.postgres import postgres_database

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def summary(seed: int, rows: int = 25, release: str = RELEASE, hour: str = HOUR) -> Summary:
    sent = wine_summary(rows=rows, seed=seed, release=release, hour=hour)
    return parse_summary(body(sent), {release: wine_baseline()}, NOW)


def expected_cells(summaries: list[Summary]) -> Counter:
    total: Counter = Counter()
    for item in summaries:
        for variable, bin_, count in summary_rows(item):
            total[(variable, bin_)] += count
    return total


def test_a_summary_is_read_back(db_url):
    store = open_store(db_url)
    try:
        store.add(summary(1))
        [tally] = store.read(RELEASE, HOUR, "2026-11-29T19")
        assert tally == HourTally(HOUR, 25, 1, 0, dict(expected_cells([summary(1)])))
        assert sum(c for (v, _), c in tally.cells.items() if v == "output") == 25
    finally:
        store.close()


def test_totals_are_the_sums_of_each_span_of_hours(db_url):
    store = open_store(db_url)
    try:
        early = [summary(seed, hour="2026-11-29T16") for seed in (1, 2)]
        late = [summary(3, rows=40, hour="2026-11-29T17"), summary(4, hour="2026-11-29T18")]
        for item in [*early, *late, summary(5, release="other", hour="2026-11-29T17")]:
            store.add(item)
        spans = [("2026-11-29T16", "2026-11-29T17"), ("2026-11-29T17", "2026-11-29T19")]
        first, second, empty = store.read_totals(
            RELEASE, [*spans, ("2026-11-30T00", "2026-12-01T00")]
        )
        assert first == Total(*spans[0], 50, 2, 0, dict(expected_cells(early)))
        assert second == Total(*spans[1], 65, 2, 0, dict(expected_cells(late)))
        assert empty == Total("2026-11-30T00", "2026-12-01T00", 0, 0, 0, {})
        hourly = store.read(RELEASE, "2026-11-29T00", "2026-11-30T00")
        assert [total_of(hourly, *span) for span in spans] == [first, second]
    finally:
        store.close()


REPORT_QUERIES = {
    "counts of a release over a window": (
        storage.SUM_COUNTS,
        ("r", "2026-11-01T00", "2026-11-08T00"),
    ),
    "hours of a release over a window": (
        storage.SUM_HOURS,
        ("r", "2026-11-01T00", "2026-11-08T00"),
    ),
    "rollout of every release over a window": (
        storage.READ_ROLLOUT,
        ("2026-11-01T00", "2026-11-08T00"),
    ),
    "forgetting old summary ids": (storage.FORGET_SEEN, ("2026-11-01T00",)),
}


@pytest.mark.parametrize("name", REPORT_QUERIES)
def test_the_queries_over_history_search_an_index_and_scan_no_table(tmp_path, name):
    """Months of data stay fast to report on only if no query reads every release and hour."""
    open_store(f"sqlite:///{tmp_path / 'beacon.db'}").close()
    sql, parameters = REPORT_QUERIES[name]
    db = sqlite3.connect(tmp_path / "beacon.db")
    try:
        plan = [row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
    finally:
        db.close()
    assert any(step.startswith("SEARCH") for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan


def with_id(item: Summary, summary_id: str) -> Summary:
    return dataclasses.replace(item, id=summary_id)


def test_a_summary_sent_twice_is_merged_once(db_url):
    store = open_store(db_url)
    try:
        assert store.add(with_id(summary(1), "a" * 32)) is True
        assert store.add(with_id(summary(1), "a" * 32)) is False
        assert store.add(with_id(summary(2), "b" * 32)) is True
        assert store.add(summary(3)) is True and store.add(summary(3)) is True  # no id: no check
        [tally] = store.read(RELEASE, HOUR, "2026-11-29T19")
        assert tally.summaries == 4
        assert tally.cells == expected_cells([summary(1), summary(2), summary(3), summary(3)])
    finally:
        store.close()


def test_an_id_is_forgotten_once_its_hour_is_a_week_older_than_the_newest(db_url):
    store = open_store(db_url)
    try:
        old = with_id(summary(1, hour="2026-11-20T10"), "c" * 32)
        assert store.add(old)
        assert not store.add(old)
        assert store.add(with_id(summary(2, hour="2026-11-27T10"), "d" * 32))  # 7 days later
        assert not store.add(old)  # still remembered: exactly 7 days
        assert store.add(with_id(summary(3, hour="2026-11-27T11"), "e" * 32))
        assert store.add(old)  # forgotten: merged again
    finally:
        store.close()


def test_merging_adds_counts_per_hour_and_release(db_url):
    store = open_store(db_url)
    try:
        items = [
            summary(1),
            summary(2),
            summary(3, hour="2026-11-29T19"),
            summary(4, release="other"),
        ]
        for item in items:
            store.add(item)
        first, second = store.read(RELEASE, "2026-11-29T00", "2026-11-30T00")
        assert (first.hour, first.n, first.summaries) == (HOUR, 50, 2)
        assert dict(first.cells) == dict(expected_cells(items[:2]))
        assert (second.hour, second.n) == ("2026-11-29T19", 25)
        assert [t.n for t in store.read("other", "2026-11-29T00", "2026-11-30T00")] == [25]
        assert store.read(RELEASE, "2026-11-29T19", "2026-11-29T20") == [second]
        assert store.read(RELEASE, "2026-11-29T20", "2026-11-30T00") == []
    finally:
        store.close()


def test_dp_summaries_are_counted(db_url):
    sent = wine_summary(rows=25)
    sent["dp"] = {"mechanism": "geometric", "epsilon": 1}
    sent["output"]["missing"] = -2
    noisy = parse_summary(body(sent), {RELEASE: wine_baseline()}, NOW)
    store = open_store(db_url)
    try:
        store.add(noisy)
        store.add(summary(1))
        [tally] = store.read(RELEASE, HOUR, "2026-11-29T19")
        assert (tally.summaries, tally.dp_summaries) == (2, 1)
        assert tally.cells[("output", -1)] == -2
    finally:
        store.close()


def test_the_first_baseline_saved_for_a_release_stays(db_url):
    store = open_store(db_url)
    try:
        store.save_baseline("r1", '{"a": 1}')
        store.save_baseline("r1", '{"a": 2}')
        store.save_baseline("r2", '{"b": 1}')
        assert store.baselines() == {"r1": '{"a": 1}', "r2": '{"b": 1}'}
    finally:
        store.close()


def test_nothing_about_the_sender_has_a_place(db_url):
    store = open_store(db_url)
    try:
        store.add(summary(1))
    finally:
        store.close()
    columns = table_columns(db_url)
    assert columns == {
        "staticml_counts": ["bin", "count", "hour", "release", "variable"],
        "staticml_hours": ["dp_summaries", "hour", "n", "release", "summaries"],
        "staticml_baselines": ["baseline", "release"],
        "staticml_rollout": ["count", "hour", "metric", "release"],
        "staticml_seen": ["hour", "id"],  # a summary's random id, to merge a resend once
    }


def table_columns(db_url: str) -> dict[str, list[str]]:
    if db_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            result = {
                t: sorted(r[1] for r in db.execute(f"PRAGMA table_info({t})")) for t in tables
            }
        db.close()
        return result
    import psycopg

    with psycopg.connect(db_url) as db:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    result: dict[str, list[str]] = {}
    for table, column in rows:
        result.setdefault(table, []).append(column)
    return {t: sorted(c) for t, c in result.items()}


def test_concurrent_writers_lose_nothing(db_url):
    """Several stores (connections) add to the same cells at once: every count arrives."""
    items = [summary(seed) for seed in range(24)]
    stores = [open_store(db_url) for _ in range(4)]
    errors: list[BaseException] = []

    def write(store, part) -> None:
        try:
            for item in part:
                store.add(item)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(store, items[i::4])) for i, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        [tally] = stores[0].read(RELEASE, HOUR, "2026-11-29T19")
        assert (tally.n, tally.summaries) == (24 * 25, 24)
        assert dict(tally.cells) == dict(expected_cells(items))
    finally:
        for store in stores:
            store.close()


def test_one_store_commits_batches_from_several_threads_at_once(db_url):
    """What group commit does with a store of several writers (PostgreSQL's connections):
    batches of overlapping cells and repeated ids, committed concurrently, merge exactly."""
    items = [with_id(summary(seed), f"{seed:032x}") for seed in range(32)]
    batches = [items[i : i + 4] + items[i : i + 1] for i in range(0, 32, 4)]  # each with a repeat
    store = open_store(db_url)
    barrier = threading.Barrier(4)
    answers: list[list[bool]] = []

    def write(part) -> None:
        barrier.wait(10)
        for batch in part:
            answers.append(store.add_many(batch))

    threads = [threading.Thread(target=write, args=(batches[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(answers) == [[True, True, True, True, False]] * 8
        [tally] = store.read(RELEASE, HOUR, "2026-11-29T19")
        assert (tally.n, tally.summaries) == (32 * 25, 32)
        assert dict(tally.cells) == dict(expected_cells(items))
    finally:
        store.close()


def test_a_postgres_store_commits_as_many_batches_at_once_as_it_has_connections(
    postgres_server, tmp_path
):
    from staticml.collector.postgres import CONNECTIONS

    with postgres_database(postgres_server) as url:
        stores = [open_store(url), open_store(f"sqlite:///{tmp_path / 'beacon.db'}")]
        try:
            assert [store.writers for store in stores] == [CONNECTIONS, 1]
            assert CONNECTIONS > 1
        finally:
            for store in stores:
                store.close()


# --- merging is order-independent (hypothesis, one store per backend for the module) ---------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_store(request, tmp_path_factory):
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path_factory.mktemp('db') / 'beacon.db'}")
        yield store
        store.close()
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        store = open_store(url)
        yield store
        store.close()


examples = st.lists(
    st.tuples(st.integers(0, 1000), st.integers(1, 60), st.sampled_from([HOUR, "2026-11-29T19"])),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25)
@given(examples, st.randoms(use_true_random=False))
def test_merging_is_order_independent(shared_store, items, rng):
    """The same summaries, added in two orders under two release ids, read back identically."""
    tag = uuid.uuid4().hex  # the module's store is shared: a fresh pair of releases
    made = [(seed, rows, hour) for seed, rows, hour in items]
    shuffled = made[:]
    rng.shuffle(shuffled)
    for release, order in ((f"a{tag}", made), (f"b{tag}", shuffled)):
        for seed, rows, hour in order:
            shared_store.add(summary(seed, rows, release=release, hour=hour))
    first = shared_store.read(f"a{tag}", "2026-11-29T00", "2026-11-30T00")
    second = shared_store.read(f"b{tag}", "2026-11-29T00", "2026-11-30T00")
    assert first == second
    assert sum(t.n for t in first) == sum(rows for _, rows, _ in made)
    merged: Counter = Counter()
    for tally in first:
        merged.update(tally.cells)
    assert +merged == +expected_cells([summary(s, r, release="x", hour=h) for s, r, h in made])


# --- failures ---------------------------------------------------------------------------------


def test_a_broken_sqlite_database_is_unavailable_storage(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    store.close()  # every later statement fails, as with a vanished disk
    with pytest.raises(StorageUnavailable):
        store.add(summary(1))


def test_a_lost_postgres_connection_is_unavailable_then_recovers(postgres_server):
    import psycopg

    with postgres_database(postgres_server) as url:
        store = open_store(url)
        try:
            store.add(summary(1))
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            with pytest.raises(StorageUnavailable):
                store.add(summary(2))
            store.add(summary(3))  # reconnected
            [tally] = store.read(RELEASE, HOUR, "2026-11-29T19")
            assert tally.summaries == 2
        finally:
            store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/x", "is not supported: use sqlite:///PATH"),
        ("sqlite://", "names no file"),
        ("sqlite:////no/such/folder/x.db", "its folder does not exist"),
    ],
)
def test_bad_database_urls_say_what_to_write(url, message):
    with pytest.raises(CollectorError, match=message):
        open_store(url)


def test_an_unreachable_postgres_is_a_startup_error_without_the_password():
    url = f"postgresql://user:s3cret@127.0.0.1:{free_port()}/db"
    with pytest.raises(CollectorError, match="Cannot use the database") as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert redact(url) in str(caught.value)


def test_a_batch_is_merged_as_its_summaries_one_by_one(db_url, tmp_path):
    """One transaction for many: the same tallies as adding each alone, repeats merged once,
    also a repeat inside the batch itself."""
    items = [
        with_id(summary(seed, hour=hour), f"{seed:032x}")
        for seed, hour in [(1, HOUR), (2, HOUR), (3, "2026-11-29T17"), (4, HOUR)]
    ]
    batched, alone = open_store(db_url), open_store(f"sqlite:///{tmp_path / 'alone.db'}")
    try:
        assert batched.add(items[0]) is True
        assert batched.add_many([items[1], items[0], items[2], items[3], items[1]]) == [
            True,
            False,
            True,
            True,
            False,
        ]
        for item in items:
            alone.add(item)
        for store in (batched, alone):
            tallies = store.read(RELEASE, "2026-11-29T00", "2026-11-29T19")
            assert [(t.hour, t.n, t.summaries) for t in tallies] == [
                ("2026-11-29T17", 25, 1),
                (HOUR, 75, 3),
            ]
        assert batched.read(RELEASE, HOUR, "2026-11-29T19") == alone.read(
            RELEASE, HOUR, "2026-11-29T19"
        )
    finally:
        batched.close()
        alone.close()
