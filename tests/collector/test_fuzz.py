"""The summary endpoint under hostile input, property-based: whatever arrives, the answer is
never a 5xx, and the stored counts change only by exactly what an accepted summary says.

Payloads: arbitrary bytes, arbitrary JSON, deeply nested arrays and objects, bodies over the
size limit, summaries with any one part replaced by a random value (wrong type, wrong shape,
huge numbers, extra keys), and honest summaries mixed in, all through the real ASGI app into a
real SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from staticml.collector.app import MAX_BODY, create_collector_app
from staticml.collector.errors import InvalidRequest
from staticml.collector.ratelimit import RateLimiter
from staticml.collector.storage import HourTally, Store, summary_rows
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
BASELINES = {RELEASE: wine_baseline()}
REFUSED = {413, 415, 422}
CONTENT_TYPES = ["text/plain;charset=UTF-8", "application/json", "", "text/html", "x/y"]


class Collector:
    def __init__(self, store: Store, client: TestClient) -> None:
        self.store, self.client = store, client

    def tallies(self) -> list[HourTally]:
        return self.store.read(RELEASE, "0000-01-01T00", "9999-12-31T23")

    def post(self, data: bytes, content_type: str = "text/plain;charset=UTF-8"):
        return self.client.post(
            "/v1/summaries", content=data, headers={"Content-Type": content_type}
        )


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'beacon.db'}")
    # A limiter wide enough never to answer 429: this is about what the body can do.
    app = create_collector_app(
        BASELINES, store, clock=lambda: NOW, limiter=RateLimiter(per_minute=10**9)
    )
    with TestClient(app) as client:
        yield Collector(store, client)
    store.close()


def expected_after(before: list[HourTally], data: bytes) -> dict[tuple[str, str, int], int]:
    """The cells the store must hold once the summary in `data` is merged into `before`."""
    summary = parse_summary(data, BASELINES, NOW)
    cells = cells_of(before)
    for variable, bin_, count in summary_rows(summary):
        key = (summary.hour, variable, bin_)
        cells[key] = cells.get(key, 0) + count
    return cells


def cells_of(tallies: list[HourTally]) -> dict[tuple[str, str, int], int]:
    return {(t.hour, v, b): c for t in tallies for (v, b), c in t.cells.items()}


def check(collector: Collector, data: bytes, content_type: str = "text/plain") -> int:
    before = collector.tallies()
    response = collector.post(data, content_type)
    assert response.status_code < 500, response.text
    after = collector.tallies()
    if response.status_code == 202:
        assert cells_of(after) == expected_after(before, data)
        assert sum(t.summaries for t in after) == sum(t.summaries for t in before) + 1
    else:
        assert response.status_code in REFUSED, response.text
        assert "error" in response.json()
        assert after == before, "a refused request changed the stored counts"
    return response.status_code


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"0" + b"}" * depth


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indexes) into a JSON value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


@st.composite
def damaged_summaries(draw) -> bytes:
    """An honest summary with one part (anywhere in it) replaced, or one key added."""
    summary = wine_summary(rows=draw(st.integers(1, 60)), seed=draw(st.integers(0, 99)))
    path = draw(st.sampled_from(paths(summary)[1:]))
    replacement = draw(
        json_values
        | st.integers(-(10**18), 10**18)
        | st.lists(st.integers(0, 10**6), max_size=2000)
    )
    target = summary
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    if draw(st.booleans()) or not isinstance(target, dict):
        target[path[-1]] = replacement  # type: ignore[index]
    else:
        target[draw(st.text(min_size=1, max_size=30))] = replacement
    return body(summary)


hostile = st.one_of(
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(nested, st.integers(1, 30_000), st.sampled_from(["list", "object"])),
    st.integers(MAX_BODY + 1, 3 * MAX_BODY).map(lambda size: b" " * size),
    damaged_summaries(),
    st.sampled_from(
        [
            b'{"v": 1, "v": 1}',
            b"NaN",
            b'{"n": Infinity}',
            b"\xef\xbb\xbf{}",
            b"\x00" * 100,
            json.dumps(wine_summary() | {"n": 10**6}).encode(),
        ]
    ),
)
fuzz = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(hostile, st.sampled_from(CONTENT_TYPES))
def test_hostile_bodies_never_5xx_and_change_counts_only_when_accepted(collector, data, kind):
    check(collector, data, kind)


@fuzz
@given(st.lists(st.one_of(damaged_summaries(), st.builds(wine_summary).map(body)), max_size=8))
def test_honest_summaries_between_damaged_ones_add_exactly_their_counts(collector, bodies):
    for data in bodies:
        check(collector, data)


def test_an_honest_summary_is_accepted(collector):
    assert check(collector, body(wine_summary(rows=30))) == 202


def test_a_deeply_nested_body_is_a_422_naming_the_body(collector):
    response = collector.post(nested(20_000, "list"))
    assert response.status_code == 422
    assert response.json()["key"] == "body" and "deeply" in response.json()["error"]


def test_one_summary_cannot_claim_a_million_predictions(collector):
    response = collector.post(json.dumps(wine_summary() | {"n": 10**6}).encode())
    assert response.status_code == 422 and response.json()["key"] == "n"


def test_the_refusals_are_instances_of_one_error_type():
    with pytest.raises(InvalidRequest):
        parse_summary(nested(20_000, "object"), BASELINES, NOW)


def test_this_module_covers_every_refusal_status(collector, tmp_path: Path):
    assert collector.post(b" " * (MAX_BODY + 1)).status_code == 413
    assert collector.post(b"{}", "text/html").status_code == 415
    assert collector.post(b"{}").status_code == 422
