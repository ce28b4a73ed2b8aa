"""The collector's answers to a security review: repeats merged once, replies that give nothing
away, reports only for allowed hosts and (optionally) a token, slow bodies cut short."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from staticml.cli.collecting import startup_warnings
from staticml.collector.app import check_hosts, check_token, create_collector_app, host_of
from staticml.collector.connections import timed_body
from staticml.collector.errors import RequestTimeout, StorageUnavailable
from staticml.collector.service import check_proxies, default_hosts
from staticml.collector.stores import open_store
from staticml.errors import CollectorError
from tests.support import run_async
from tests.support.collector import HOUR, RELEASE, body, wine_baseline, wine_summary

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
TOKEN = "s3cret-report-token-0123"
SUMMARY_ID = "0123456789abcdef0123456789abcdef"
REPORTS = ("/v1/drift", "/v1/rollout", "/")


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    yield store
    store.close()


def collector(store, **options) -> TestClient:
    app = create_collector_app({RELEASE: wine_baseline()}, store, clock=lambda: NOW, **options)
    return TestClient(app, base_url="http://127.0.0.1:8001", raise_server_exceptions=False)


def post(client: TestClient, data: bytes, **headers):
    return client.post(
        "/v1/summaries", content=data, headers={"Content-Type": "text/plain", **headers}
    )


def stored(store) -> tuple[int, int]:
    [tally] = store.read(RELEASE, HOUR, "2026-11-29T19") or [None]
    return (0, 0) if tally is None else (tally.summaries, tally.n)


# --- repeats ----------------------------------------------------------------------------------


def test_the_same_summary_posted_twice_is_counted_once(store):
    sent = body({**wine_summary(rows=25), "id": SUMMARY_ID})
    with collector(store) as client:
        first, again = post(client, sent), post(client, sent)
        other = post(client, body({**wine_summary(rows=30), "id": "f" * 32}))
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json() == again.json()
    assert stored(store) == (2, 55)


@pytest.mark.parametrize("bad", ["0123", "A" * 32, "g" * 32, 7, ["x"], "a" * 33])
def test_an_id_that_is_not_32_hex_digits_is_422(store, bad):
    with collector(store) as client:
        response = post(client, body({**wine_summary(), "id": bad}))
    assert response.status_code == 422 and response.json()["key"] == "id"
    assert stored(store) == (0, 0)


# --- what replies say -------------------------------------------------------------------------


class FailingStore:
    """A store whose every call fails the way a real one reports, with its path and host."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def add(self, *args):
        raise self.error

    read = read_totals = ping = add_many = add_rollout = read_rollout = add

    def close(self):
        pass


SECRET_DETAIL = "The database /srv/secret/beacon.db at db.internal (user beacon) failed: disk full."


def test_a_storage_failure_says_what_to_do_and_nothing_about_the_database():
    with collector(FailingStore(StorageUnavailable(SECRET_DETAIL))) as client:
        response = post(client, body(wine_summary()))
        health = client.get("/healthz")
    assert response.status_code == health.status_code == 503
    error = response.json()["error"]
    assert "retry" in error.lower() or "send it again" in error
    for secret in ("/srv", "secret", "db.internal", "beacon", "disk"):
        assert secret not in response.text and secret not in health.text


def test_an_unexpected_failure_is_a_generic_500_and_the_detail_is_logged(caplog):
    caplog.set_level(logging.ERROR, logger="staticml.collector")
    with collector(FailingStore(RuntimeError(SECRET_DETAIL))) as client:
        response = post(client, body(wine_summary()))
        report = client.get("/v1/drift")
    assert response.status_code == report.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "retry later" in response.json()["error"]
    assert "/srv" not in response.text and "db.internal" not in report.text
    assert "/srv/secret/beacon.db" in caplog.text


def test_an_unknown_release_is_refused_without_listing_the_known_ones(store):
    with collector(store) as client:
        summary = post(client, body(wine_summary(release="nope")))
        report = client.get("/v1/drift?release=nope")
    for response in (summary, report):
        assert response.status_code == 422 and response.json()["key"] == "release"
        assert RELEASE not in response.text


# --- hosts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*REPORTS, "/healthz"])
def test_reports_for_a_host_not_allowed_are_400(store, path):
    with collector(store, allowed_hosts=["127.0.0.1", "collector.example"]) as client:
        refused = client.get(path, headers={"Host": "attacker.example"})
        allowed = client.get(path, headers={"Host": "collector.example:8001"})
    assert refused.status_code == 400 and "host" in refused.json()["error"]
    assert "collector.example" not in refused.text
    assert allowed.status_code == 200


def test_summaries_are_taken_whatever_the_host(store):
    with collector(store, allowed_hosts=["127.0.0.1"]) as client:
        assert post(client, body(wine_summary()), Host="attacker.example").status_code == 202
    assert stored(store) == (1, 25)


def test_host_headers_are_read_without_port_or_brackets():
    assert host_of("Collector.Example:8001") == "collector.example"
    assert host_of("[::1]:8001") == host_of("[::1]") == "::1"
    assert host_of("127.0.0.1") == "127.0.0.1"


@pytest.mark.parametrize("bad", ["https://x.example", "x.example:80", "x.example/path", "", "a b"])
def test_an_allowed_host_that_is_not_a_name_is_refused(bad):
    with pytest.raises(CollectorError, match="--allowed-host"):
        check_hosts([bad])


def test_allowed_hosts_are_names_addresses_or_any():
    assert check_hosts(["X.Example.", "[::1]", "192.0.2.1", "*"]) == {
        "x.example",
        "::1",
        "192.0.2.1",
        "*",
    }


# --- the report token -------------------------------------------------------------------------


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"me:{password}".encode()).decode()


@pytest.mark.parametrize("path", REPORTS)
def test_reports_need_the_token_when_one_is_set(store, path):
    with collector(store, report_token=TOKEN) as client:
        missing = client.get(path)
        wrong = client.get(path, headers={"Authorization": f"Bearer {TOKEN}x"})
        bearer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        password = client.get(path, headers={"Authorization": basic(TOKEN)})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert TOKEN not in missing.text
    assert bearer.status_code == password.status_code == 200


def test_summaries_and_health_need_no_token(store):
    with collector(store, report_token=TOKEN) as client:
        assert post(client, body(wine_summary())).status_code == 202
        assert client.get("/healthz").status_code == 200
    assert stored(store) == (1, 25)


def test_without_a_token_reports_are_open(store):
    with collector(store) as client:
        assert all(client.get(path).status_code == 200 for path in REPORTS)


@pytest.mark.parametrize("bad", ["short", "x" * 15, "has a space in it ok", "é" * 20])
def test_a_weak_or_unprintable_token_is_refused(bad):
    with pytest.raises(CollectorError, match="report token"):
        check_token(bad)


# --- slow bodies ------------------------------------------------------------------------------


def stalled_after(chunk: bytes):
    """A receive() that delivers `chunk` (more to come), then nothing ever again."""
    calls = 0

    async def receive():
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": chunk, "more_body": True}
        await asyncio.Event().wait()

    return receive


def test_a_body_that_stops_arriving_is_a_timeout():
    async def read() -> None:
        receive = timed_body(stalled_after(b"{"), 0.05)
        assert (await receive())["body"] == b"{"
        await receive()

    with pytest.raises(RequestTimeout, match="did not arrive"):
        run_async(read())


def test_a_stalled_body_is_answered_408(store):
    app = create_collector_app({RELEASE: wine_baseline()}, store, body_timeout=0.05)
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/summaries",
        "raw_path": b"/v1/summaries",
        "query_string": b"",
        "headers": [(b"content-type", b"text/plain"), (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8001),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    run_async(app(scope, stalled_after(b'{"v": 1'), send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert stored(store) == (0, 0)


# --- start-up ---------------------------------------------------------------------------------


def test_the_default_hosts_are_the_bind_address_and_localhost():
    assert default_hosts("127.0.0.1") == ("127.0.0.1", "localhost", "::1")
    assert default_hosts("collector.internal") == (
        "collector.internal",
        "localhost",
        "127.0.0.1",
        "::1",
    )
    assert default_hosts("0.0.0.0") == ("localhost", "127.0.0.1", "::1")


def test_start_up_warns_of_what_is_left_open():
    assert startup_warnings("127.0.0.1", ["https://a.example"], []) == []
    [origin] = startup_warnings("127.0.0.1", [], [])
    assert "--allow-origin" in origin
    [_, hosts] = startup_warnings("0.0.0.0", [], [])
    assert "--allowed-host" in hosts
    assert startup_warnings("0.0.0.0", ["https://a.example"], ["c.example"]) == []


@pytest.mark.parametrize("bad", ["proxy.example", "10.0.0.0/33", "*"])
def test_a_trusted_proxy_must_be_an_address_or_network(bad):
    with pytest.raises(CollectorError, match="trusted proxy"):
        check_proxies([bad])
    assert check_proxies(["127.0.0.1", "10.0.0.0/8", "::1"]) == ["127.0.0.1", "10.0.0.0/8", "::1"]
