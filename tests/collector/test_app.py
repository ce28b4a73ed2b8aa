"""The collector's handlers in-process: statuses, CORS, limits, the report and the dashboard."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from staticml.collector.app import MAX_BODY, check_origins, create_collector_app, read_body
from staticml.collector.dashboard import STYLE
from staticml.collector.errors import PayloadTooLarge, StorageUnavailable
from staticml.collector.ratelimit import RateLimiter
from staticml.collector.stores import open_store
from staticml.errors import CollectorError
from tests.support import run_async
from tests.support.collector import HOUR, RELEASE, body, wine_baseline, wine_summary

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
ORIGIN = "https://wine.example"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    yield store
    store.close()


@pytest.fixture
def make_client(store):
    clients: list[TestClient] = []

    def make(**options) -> TestClient:
        options.setdefault("allow_origins", [ORIGIN])
        app = create_collector_app({RELEASE: wine_baseline()}, store, clock=lambda: NOW, **options)
        client = TestClient(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


def post(
    client: TestClient, data: bytes, content_type: str = "text/plain;charset=UTF-8", **headers
):
    return client.post(
        "/v1/summaries", content=data, headers={"Content-Type": content_type, **headers}
    )


def stored(store) -> int:
    return sum(t.summaries for t in store.read(RELEASE, "2000-01-01T00", "2100-01-01T00"))


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/json", ""])
def test_a_summary_is_accepted_and_stored(client, store, content_type):
    response = post(client, body(wine_summary()), content_type)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted"}
    assert stored(store) == 1


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (body({**wine_summary(), "release": "ffffffffffff"}), "release"),
        (body({**wine_summary(), "ip": "203.0.113.9"}), "ip"),
        (body({**wine_summary(), "n": 20_000}), "n"),
        (body({**wine_summary(), "hour": "2026-11-29T18:31"}), "hour"),
        (b"not json", "body"),
        (b"", "body"),
        (body([wine_summary()]), "summary"),
    ],
)
def test_an_invalid_summary_is_422_naming_the_key_and_nothing_is_stored(client, store, data, key):
    response = post(client, data)
    assert response.status_code == 422
    assert response.json()["key"] == key
    assert response.json()["error"].startswith(key)
    assert stored(store) == 0


def test_an_unsupported_content_type_is_415(client, store):
    response = post(client, body(wine_summary()), "application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "text/plain" in response.json()["error"]
    assert stored(store) == 0


def test_a_declared_oversized_body_is_413(client, store):
    data = body(wine_summary()) + b" " * MAX_BODY
    response = post(client, data)
    assert response.status_code == 413
    assert stored(store) == 0


def test_a_body_of_exactly_the_limit_is_read():
    data = body(wine_summary())
    padded = data + b" " * (MAX_BODY - len(data))
    assert run_async(read_body(streamed([padded]), MAX_BODY)) == padded


def streamed(chunks, declared: int | None = None) -> Request:
    """A request whose body arrives in `chunks` (an iterator), counting what was pulled."""
    iterator = iter(chunks)

    async def receive():
        chunk = next(iterator, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def test_the_limit_is_checked_while_reading_not_after():
    pulled = []

    def endless():
        while True:
            pulled.append(1)
            yield b"x" * 4096

    with pytest.raises(PayloadTooLarge):
        run_async(read_body(streamed(endless()), MAX_BODY))
    assert len(pulled) == MAX_BODY // 4096 + 1


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    pulled = []

    def chunks():
        pulled.append(1)
        yield b"{}"

    with pytest.raises(PayloadTooLarge):
        run_async(read_body(streamed(chunks(), declared=MAX_BODY + 1), MAX_BODY))
    assert pulled == []


def test_too_many_requests_are_429_with_retry_after(make_client, store):
    clock = Clock()
    client = make_client(limiter=RateLimiter(per_minute=60, burst=2, clock=clock))
    assert [post(client, body(wine_summary())).status_code for _ in range(2)] == [202, 202]
    refused = post(client, body(wine_summary()))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert stored(store) == 2
    clock.now += 1
    assert post(client, body(wine_summary())).status_code == 202


class BrokenStore:
    def add(self, summary):
        raise StorageUnavailable("The database failed: disk I/O error.")

    read = read_totals = save_baseline = baselines = add_many = add

    def ping(self):
        raise StorageUnavailable("The database failed: disk I/O error.")

    def close(self):
        pass


def test_a_storage_failure_is_503_with_retry_after():
    app = create_collector_app({RELEASE: wine_baseline()}, BrokenStore(), clock=lambda: NOW)
    with TestClient(app) as client:
        response = post(client, body(wine_summary()))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert client.get("/healthz").status_code == 503


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "releases": [RELEASE]}


# --- CORS -------------------------------------------------------------------------------------


def test_an_allowed_origin_may_read_the_reply(client):
    response = post(client, body(wine_summary()), Origin=ORIGIN)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]
    failed = post(client, b"{}", Origin=ORIGIN)
    assert failed.status_code == 422
    assert failed.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_gets_no_cors_header(client):
    response = post(client, body(wine_summary()), Origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight(client):
    def preflight(origin: str):
        return client.options(
            "/v1/summaries",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    refused = preflight("https://evil.example")
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_no_origin_is_allowed_by_default(make_client):
    client = make_client(allow_origins=[])
    response = post(client, body(wine_summary()), Origin=ORIGIN)
    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "origin", ["https://wine.example/", "wine.example", "https://a.example/x", "ftp://a.example"]
)
def test_an_origin_with_a_path_or_no_scheme_is_refused(origin):
    with pytest.raises(CollectorError, match="is not an origin"):
        check_origins([origin])


def test_origins_with_ports_and_the_wildcard_are_fine():
    assert check_origins(["http://127.0.0.1:8000", "*", "https://[::1]:8443"]) == (
        "http://127.0.0.1:8000",
        "*",
        "https://[::1]:8443",
    )


# --- report and dashboard ---------------------------------------------------------------------


def send_many(client, count: int, shift: float = 0.0, hour: str = HOUR) -> None:
    for seed in range(count):
        response = post(client, body(wine_summary(rows=50, seed=seed, shift=shift, hour=hour)))
        assert response.status_code == 202, response.text


def test_the_drift_report_is_json(client):
    send_many(client, 6)
    response = client.get("/v1/drift", params={"release": RELEASE, "window": "24h"})
    assert response.status_code == 200
    report = response.json()
    assert report["release"] == RELEASE and report["window"] == "24h"
    assert report["current"] == {
        "start": "2026-11-28T19",
        "end": "2026-11-29T19",
        "n": 300,
        "summaries": 6,
        "dp": False,
    }
    assert [f["name"] for f in report["features"]] == ["alcohol", "colour", "acidity"]
    alcohol = report["features"][0]
    assert alcohol["skew"]["verdict"] in ("ok", "warn")
    assert alcohol["drift"]["verdict"] == "not enough data"
    assert alcohol["bins"][-1] == "missing"
    assert sum(alcohol["current"]) == pytest.approx(1)
    assert report["output"]["role"] == "output"


@pytest.mark.parametrize(
    ("params", "key"),
    [({"release": "nope"}, "release"), ({"release": RELEASE, "window": "1w"}, "window")],
)
def test_a_bad_report_query_is_422(client, params, key):
    response = client.get("/v1/drift", params=params)
    assert response.status_code == 422
    assert response.json()["key"] == key


def test_the_dashboard_is_self_contained_html_with_charts(client):
    send_many(client, 6)
    send_many(client, 6, shift=2.0, hour="2026-11-29T17")
    response = client.get("/", params={"window": "24h"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert page.count("<svg") >= 5  # prediction, PSI over time, one per feature
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "alcohol" in page and "PSI" in page
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp and f"<style>{STYLE}</style>" in page
