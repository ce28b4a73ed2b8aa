"""What monitoring sends from a visitor's browser: summaries of counts and nothing else, no
cookies, nothing at all after opting out or under Global Privacy Control or Do Not Track, and
rollout counts with local differential privacy noise when the app asks for it.

The wine example is built with a collector URL (`monitored`, tests/browser/conftest.py, or a
build of a test's own); each test starts its own collector on that port and drives Chromium.
"""

from __future__ import annotations

import json
import time

import pytest

from staticml.collector.app import create_collector_app
from staticml.collector.releases import load_bundle, parse_baselines
from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from tests.support import free_port, get_json
from tests.support.browser import watch
from tests.support.monitoring import (
    ONE_WAITING,
    build_monitored,
    drawn,
    open_monitored,
    origin,
    page_collector,
    predict_all,
    wait_until_sent,
)
from tests.support.serving import serve_in_thread, serve_subprocess

pytestmark = pytest.mark.browser


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
        assert set(data) == {
            *("v", "id", "release", "hour", "n", "features", "output", "dp", "confidence")
        }
        # The top-class probability, binned as the baseline fixes: counts again, no value.
        assert sum(data["confidence"]["counts"]) + data["confidence"]["missing"] == 20
        assert len(data["hour"]) == len("2026-11-29T18")
        assert all(isinstance(c, int) for f in data["features"].values() for c in f["counts"])


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
    """The ASGI app, keeping the method, path and headers of every request once it has been
    handled (a summary is in the store by the time the test sees it)."""

    async def recorded(scope, receive, send):
        await app(scope, receive, send)
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            seen.append((scope["method"], scope["path"], headers))

    return recorded


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


def test_rollout_counts_get_local_dp_noise_with_epsilon(browser, tmp_path):
    """With monitor.epsilon the feedback counts are noised in the worker's Python (the drift
    summaries' mechanism; tests/collector/test_rollout.py checks the draws) and the collector
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


BUDGET_SPENT = """() => !document.getElementById("monitor-budget").hidden
  && window.staticml.monitor.outbox().length === 1
  && JSON.parse(localStorage.getItem("staticml-monitor:wine:partial") || "null")?.partial?.n === 0"""


def test_the_page_stops_sending_once_the_days_privacy_budget_is_spent(browser, tmp_path):
    """ε = 1 a summary, 2 a day: of three summaries two go, the third waits (the page says so)
    while predictions go on; once the day is over (its record moved to a past day) it goes."""
    port = free_port()
    extra = "epsilon = 1\nepsilon_per_day = 2\nmin_predictions = 5\n"
    result = build_monitored(tmp_path, port, 0, extra)
    with (
        serve_subprocess(result.out_dir) as server,
        page_collector(result, server, port, f"sqlite:///{tmp_path / 'b.db'}") as collector,
    ):
        watched, page = open_monitored(browser, server, port)
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        assert page.is_hidden("#monitor-budget")
        predict_all(page, drawn(15, shift=False))
        page.wait_for_function(BUDGET_SPENT)
        assert page.evaluate("window.staticml.monitor.budget()") == {"spent": 2, "limit": 2}
        assert "budget (ε = 2) is spent" in page.text_content("#monitor-budget")
        page.wait_for_timeout(500)
        assert posts == [f"http://127.0.0.1:{port}/v1/summaries"] * 2
        drift = f"v1/drift?release={result.release}&window=24h"
        assert get_json(collector.url + drift)["current"]["n"] == 10
        prediction = page.evaluate("(r) => window.staticml.predict(r)", drawn(1, False, seed=8)[0])
        assert prediction["label"] in prediction["probabilities"]
        page.evaluate(
            """localStorage.setItem("staticml-monitor:wine:budget",
               JSON.stringify({day: "2000-01-01", spent: 2, ids: []}))"""
        )
        page.evaluate("window.staticml.monitor.flush()")
        page.wait_for_function("() => window.staticml.monitor.outbox().length === 0")
        assert len(posts) == 3
        assert get_json(collector.url + drift)["current"]["n"] == 15
        assert page.evaluate("window.staticml.monitor.budget()") == {"spent": 1, "limit": 2}
        watched.assert_clean()
        watched.context.close()
