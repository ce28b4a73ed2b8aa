"""Drift monitoring end to end: pages send summaries to a real collector, which flags drift.

The wine example is built with a collector URL on a port chosen here; each test starts its own
`staticml beacon` on that port (SQLite, or the suite's PostgreSQL) and drives Chromium.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import time

import pytest

import staticml
from staticml.collector.app import create_collector_app
from staticml.collector.releases import load_bundle, parse_baselines
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from tests.support import ROOT, free_port, get_json
from tests.support.beacon import beacon
from tests.support.browser import watch
from tests.support.postgres import database_down, postgres_database
from tests.support.serving import serve_in_thread, serve_subprocess

pytestmark = pytest.mark.browser

WINE = ROOT / "examples" / "wine"
SHIFTED = ("alcohol", "color_intensity")


def build_monitored(root, port: int, interval: float, extra: str = ""):
    app = root / "wine"
    shutil.copytree(WINE, app)
    config = app / "staticml.toml"
    monitor = 'reference_file = "reference.csv"\n'
    assert monitor in config.read_text()
    config.write_text(
        config.read_text().replace(
            monitor,
            monitor
            + f'collector = "http://127.0.0.1:{port}"\ninterval_minutes = {interval}\n{extra}',
        )
    )
    return staticml.build(app, root / "site")


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """The wine site sending summaries as soon as one is ready, served on 127.0.0.1."""
    port = free_port()
    result = build_monitored(tmp_path_factory.mktemp("monitored"), port, 0)
    with serve_subprocess(result.out_dir) as server:
        yield result, server, port


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beacon.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


def origin(url: str) -> str:
    return url.rstrip("/")


def reference_rows() -> list[dict[str, str]]:
    with (WINE / "reference.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def page_collector(result, server, port: int, db: str):
    """A collector on `db` accepting the summaries of the pages `server` serves."""
    return beacon(result.out_dir, db, "--allow-origin", origin(server.url), port=port)


def drawn(count: int, shift: bool, seed: int = 3) -> list[dict[str, float]]:
    """Records resampled from the training rows; with `shift`, two features moved up."""
    generator = random.Random(seed)
    rows = reference_rows()
    records = []
    for _ in range(count):
        record = {k: float(v) for k, v in generator.choice(rows).items()}
        if shift:
            record["alcohol"] = min(record["alcohol"] + 2.5, 18.0)
            record["color_intensity"] = min(record["color_intensity"] * 1.8, 20.0)
        records.append(record)
    return records


def predict_all(page, records) -> None:
    page.evaluate(
        "async (records) => { for (const r of records) await window.staticml.predict(r); }", records
    )


# The worker counts a prediction after answering it: whether it has counted the last one shows in
# the partial counts the page keeps (predictions % 20 of them, once all are counted).
COUNTED_AND_SENT = """(left) => {
  const saved = JSON.parse(localStorage.getItem("staticml-monitor:wine:partial") || "null");
  return saved?.partial?.n === left && window.staticml.monitor.outbox().length === 0;
}"""


def wait_until_sent(page, predictions: int, attempts: int = 200) -> None:
    """Until the worker has counted all `predictions` and their summaries left the outbox."""
    for _ in range(attempts):
        if page.evaluate(COUNTED_AND_SENT, predictions % 20):
            return
        page.wait_for_timeout(100)
    raise AssertionError(
        f"summaries still waiting: {page.evaluate('window.staticml.monitor.outbox()')}"
    )


def open_monitored(browser, server, collector_port, **options):
    watched = watch(
        browser, server.url, allowed=(f"http://127.0.0.1:{collector_port}/",), **options
    )
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    return watched, page


def test_shifted_inputs_are_flagged_and_the_rest_are_not(monitored, browser, db):
    result, server, port = monitored
    with page_collector(result, server, port, db) as collector:
        watched, page = open_monitored(browser, server, port)
        predict_all(page, drawn(600, shift=True))
        wait_until_sent(page, 600)
        report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
        watched.assert_clean()
        watched.context.close()
    assert report["current"]["n"] == 600 and report["current"]["summaries"] == 30
    verdicts = {f["name"]: f["skew"]["verdict"] for f in report["features"]}
    assert {name for name, verdict in verdicts.items() if verdict == "alert"} == set(SHIFTED), {
        f["name"]: f["skew"] for f in report["features"]
    }


def test_unshifted_inputs_raise_no_alert(monitored, browser, tmp_path):
    result, server, port = monitored
    with page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector:
        watched, page = open_monitored(browser, server, port)
        predict_all(page, drawn(600, shift=False))
        wait_until_sent(page, 600)
        report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
        watched.assert_clean()
        watched.context.close()
    assert report["current"]["n"] == 600
    assert [f["name"] for f in report["features"] if f["skew"]["verdict"] == "alert"] == []


def test_only_summaries_of_counts_leave_the_browser(monitored, browser, tmp_path):
    result, server, port = monitored
    baselines = parse_baselines(dict([load_bundle(result.out_dir)]))
    with page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}"):
        watched, page = open_monitored(browser, server, port)
        sent = []
        page.on("request", lambda r: sent.append(r) if r.method != "GET" else None)
        predict_all(page, drawn(45, shift=False, seed=11))
        wait_until_sent(page, 45)
        watched.assert_clean()
        watched.context.close()
    assert len(sent) == 2
    for request in sent:
        assert request.url == f"http://127.0.0.1:{port}/v1/summaries"
        assert "cookie" not in request.headers and not request.headers.get("referer")
        body = request.post_data_buffer
        # The collector's own validator accepts nothing but the baseline's shape: exactly these
        # keys, one integer count per fixed bin, counts adding up to n. No room for a value.
        assert parse_summary(body, baselines).n == 20
        data = json.loads(body)
        assert set(data) == {"v", "id", "release", "hour", "n", "features", "output", "dp"}
        assert len(data["hour"]) == len("2026-11-29T18")
        assert all(isinstance(c, int) for f in data["features"].values() for c in f["counts"])


def test_unsent_summaries_survive_a_reload_and_are_sent_later(monitored, browser, tmp_path):
    result, server, port = monitored
    watched, page = open_monitored(browser, server, port)
    watched.expect_errors(r"ERR_CONNECTION_REFUSED")  # the collector is down: that's the test
    predict_all(page, drawn(25, shift=False))
    page.wait_for_timeout(500)
    assert len(page.evaluate("window.staticml.monitor.outbox()")) == 1, (
        "the collector is down: keep it"
    )
    with page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector:
        page.reload()
        page.evaluate("window.staticml.ready")
        wait_until_sent(page, 25)
        report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
    assert report["current"]["n"] == 20
    assert watched.foreign == []
    watched.context.close()


def test_a_collector_without_its_database_is_retried_later(monitored, browser, postgres_server):
    result, server, port = monitored
    with (
        postgres_database(postgres_server) as url,
        beacon(result.out_dir, url, "--allow-origin", origin(server.url), port=port) as collector,
    ):
        with database_down(postgres_server, url):
            watched, page = open_monitored(browser, server, port)
            watched.expect_errors(r"status of 503")  # Chromium reports the failed POST
            answers, kinds = [], []
            page.on(
                "response",
                lambda r: (
                    (
                        answers.append(r.status),
                        kinds.append(r.request.resource_type),
                    )
                    if r.request.method == "POST"
                    else None
                ),
            )
            predict_all(page, drawn(25, shift=False))
            for _ in range(100):
                if answers:
                    break
                page.wait_for_timeout(100)
            predict_all(page, drawn(5, shift=False))  # more predictions do not retry sooner
            page.wait_for_timeout(300)
            assert answers == [503], kinds
            assert len(page.evaluate("window.staticml.monitor.outbox()")) == 1, "kept for later"
        page.evaluate("window.staticml.monitor.flush()")
        wait_until_sent(page, 30)
        report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
        watched.context.close()
    assert answers == [503, 202]
    assert report["current"]["n"] == 20


def test_opting_out_stops_counting_and_sending(monitored, browser, tmp_path):
    result, server, port = monitored
    with page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector:
        watched, page = open_monitored(browser, server, port)
        posts = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.uncheck("#monitor-consent")
        assert page.text_content("#monitor-note") == "Nothing is counted or sent from this browser."
        predict_all(page, drawn(45, shift=False))
        page.reload()
        page.evaluate("window.staticml.ready")
        assert not page.is_checked("#monitor-consent")
        predict_all(page, drawn(45, shift=False))
        page.wait_for_timeout(500)
        assert posts == [] and page.evaluate("window.staticml.monitor.outbox()") == []
        assert (
            get_json(collector.url + f"v1/drift?release={result.release}&window=24h")["current"][
                "n"
            ]
            == 0
        )
        watched.assert_clean()
        watched.context.close()


@pytest.mark.parametrize("signal", ["globalPrivacyControl", "doNotTrack"])
def test_global_privacy_control_and_do_not_track_are_honoured(monitored, browser, signal):
    _, server, port = monitored
    watched = watch(browser, server.url, allowed=(f"http://127.0.0.1:{port}/",))
    value = "true" if signal == "globalPrivacyControl" else '"1"'
    watched.context.add_init_script(
        f"Object.defineProperty(Navigator.prototype, '{signal}', {{get: () => {value}}})"
    )
    page = watched.new_page()
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    assert page.is_disabled("#monitor-consent") and not page.is_checked("#monitor-consent")
    assert "Global Privacy Control or Do Not Track" in page.text_content("#monitor-note")
    predict_all(page, drawn(45, shift=False))
    page.wait_for_timeout(500)
    assert posts == [] and page.evaluate("window.staticml.monitor.outbox()") == []
    watched.assert_clean()
    watched.context.close()


def recording_headers(app, seen: list[tuple[str, str, dict[str, str]]]):
    """The ASGI app, keeping the method, path and headers of every request it receives."""

    async def recorded(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            seen.append((scope["method"], scope["path"], headers))
        await app(scope, receive, send)

    return recorded


ONE_WAITING = "() => window.staticml.monitor.outbox().length === 1"


def test_no_send_carries_the_collectors_cookies(browser, tmp_path):
    """A cookie for the collector's host is never sent with a summary, during the visit or at
    page hide (`navigator.sendBeacon` would send it: the beacon to /healthz shows it can)."""
    port = free_port()
    result = build_monitored(tmp_path, port, 60)
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    seen: list[tuple[str, str, dict[str, str]]] = []
    with serve_subprocess(result.out_dir) as server:
        app = create_collector_app(
            parse_baselines(dict([load_bundle(result.out_dir)])),
            store,
            allow_origins=(origin(server.url),),
        )
        with serve_in_thread(recording_headers(app, seen), ready="healthz", port=port) as collector:
            watched, page = open_monitored(browser, server, port)
            watched.context.add_cookies([{"name": "visitor", "value": "v-1", "url": collector.url}])
            watched.expect_errors(r"status of 405 \(Method Not Allowed\)")  # the control beacon
            page.evaluate(
                "(url) => navigator.sendBeacon(url, 'control')", collector.url + "healthz"
            )
            page.evaluate("localStorage.setItem(`staticml-monitor:wine:last`, String(Date.now()))")
            predict_all(page, drawn(25, shift=False))
            page.wait_for_function(ONE_WAITING)
            page.evaluate("window.staticml.monitor.flush()")
            assert page.evaluate("window.staticml.monitor.outbox()") == [], "sent during the visit"
            predict_all(page, drawn(15, shift=False, seed=5))
            page.wait_for_function(ONE_WAITING)
            page.close(run_before_unload=True)
            for _ in range(600):  # the browser sends it after the page is gone
                if sum(path == "/v1/summaries" for _, path, _ in seen) == 2:
                    break
                time.sleep(0.1)
            report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
            watched.context.close()
    store.close()
    control = [h for method, path, h in seen if (method, path) == ("POST", "/healthz")]
    assert control and control[0].get("cookie") == "visitor=v-1", "the cookie is the host's"
    summaries = [h for method, path, h in seen if path == "/v1/summaries"]
    assert len(summaries) == 2, seen
    assert all("cookie" not in headers for headers in summaries), summaries
    assert report["current"]["n"] == 40


def test_csv_batch_predictions_are_summarised_too(monitored, browser, tmp_path):
    result, server, port = monitored
    rows = reference_rows()[:60]
    text = ",".join(rows[0]) + "\n" + "\n".join(",".join(r.values()) for r in rows) + "\n"
    with page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector:
        watched, page = open_monitored(browser, server, port)
        scored = page.evaluate(
            "async (text) => (await window.staticml.predictFile(new File([text], 'rows.csv'))).scored",
            text,
        )
        wait_until_sent(page, 60)
        report = get_json(collector.url + f"v1/drift?release={result.release}&window=24h")
        watched.assert_clean()
        watched.context.close()
    assert scored == 60
    assert (report["current"]["n"], report["current"]["summaries"]) == (60, 3)


def test_page_hide_sends_what_fits_in_64_kib_and_keeps_the_rest(browser, tmp_path):
    """Keepalive bodies pending at once may not pass 64 KiB: what fits is sent, the rest waits
    for the next visit. (The page stops at the budget; a send the browser refuses anyway is put
    back. Chromium rejects while the closing page still runs, so this passes with either one,
    and fails without both.)"""
    port = free_port()
    result = build_monitored(tmp_path, port, 60)
    with (
        serve_subprocess(result.out_dir) as server,
        page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector,
    ):
        watched, page = open_monitored(browser, server, port)
        page.evaluate("localStorage.setItem(`staticml-monitor:wine:last`, String(Date.now()))")
        predict_all(page, drawn(20, shift=False))
        page.wait_for_function(ONE_WAITING)
        bytes_each = page.evaluate(MANY_WAITING, 100)
        fits = 64 * 1024 // bytes_each
        assert fits < 100
        page.close(run_before_unload=True)
        drift = collector.url + f"v1/drift?release={result.release}&window=24h"
        for _ in range(600):  # the browser sends them after the page is gone
            if get_json(drift)["current"]["n"] == 20 * fits:
                break
            time.sleep(0.1)
        assert get_json(drift)["current"]["n"] == 20 * fits
        again = watched.new_page()
        again.goto(server.url)
        again.evaluate("window.staticml.ready")
        assert len(again.evaluate("window.staticml.monitor.outbox()")) == 100 - fits
        watched.context.close()


# The one waiting summary, copied under fresh ids until `count` wait; returns one's body bytes.
MANY_WAITING = """(count) => {
  const key = "staticml-monitor:wine:outbox";
  const [item] = JSON.parse(localStorage.getItem(key));
  const id = (i) => i.toString(16).padStart(32, "0"); // the collector merges each summary id once
  const copies = Array.from({ length: count }, (_, i) => ({ id: `copy-${i}`, summary: { ...item.summary, id: id(i) } }));
  localStorage.setItem(key, JSON.stringify(copies));
  return new TextEncoder().encode(JSON.stringify(item.summary)).length;
}"""


def test_rollout_counts_get_local_dp_noise_with_epsilon(browser, tmp_path):
    """With monitor.epsilon the feedback counts are noised in the worker's Python (the drift
    summaries' mechanism; tests/test_collector_rollout.py checks the draws) and the collector
    accepts them."""
    port = free_port()
    result = build_monitored(tmp_path, port, 0, "epsilon = 0.5\nmin_predictions = 5\n")
    with (
        serve_subprocess(result.out_dir) as server,
        page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}"),
    ):
        watched, page = open_monitored(browser, server, port)
        records = drawn(5, shift=False)
        for record in records[:4]:
            page.evaluate("(r) => window.staticml.predict(r)", record)
            page.locator("#feedback-right").click()
        page.evaluate("(r) => window.staticml.predict(r)", records[4])
        with page.expect_response(lambda r: r.url.endswith("/v1/rollout")) as answered:
            page.locator("#feedback-right").click()
        response = answered.value
        body = json.loads(response.request.post_data or "null")
        assert response.status == 202, response.text()
        watched.context.close()
    assert body["dp"] == {"mechanism": "geometric", "epsilon": 0.5}
    assert set(body["feedback"]) == {"right", "wrong"} and body["shadow"] is None
    assert all(isinstance(count, int) for count in body["feedback"].values())
