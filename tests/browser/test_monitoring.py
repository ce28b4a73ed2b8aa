"""Drift monitoring end to end: pages send summaries to a real collector, which flags drift.

The wine example is built with a collector URL on a port chosen here (`monitored`, in
tests/browser/conftest.py, or a build of a test's own); each test starts its own
`staticml beacon` on that port (SQLite, or the suite's PostgreSQL) and drives Chromium. What
the page may and may not send is in test_monitoring_privacy.py.
"""

from __future__ import annotations

import time

import pytest

from tests.support import free_port, get_json
from tests.support.beacon import beacon
from tests.support.monitoring import (
    ONE_WAITING,
    SHIFTED,
    build_monitored,
    drawn,
    open_monitored,
    origin,
    page_collector,
    predict_all,
    reference_rows,
    wait_until_sent,
)
from tests.support.postgres import database_down, postgres_database
from tests.support.serving import serve_subprocess

pytestmark = pytest.mark.browser


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beacon.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


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
    for the next visit, and nothing is lost or counted twice. (The page stops at the budget; a
    send the browser refuses anyway is put back. Chromium rejects while the closing page still
    runs, so this passes with either one, and fails without both. A send that reached the
    collector may still be put back when its answer is lost with the page: the next visit sends
    it again and the collector merges each summary id once.)"""
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
        kept = {summary["id"] for summary in again.evaluate("window.staticml.monitor.outbox()")}
        assert {f"{i:032x}" for i in range(fits, 100)} <= kept, "what did not fit waits"
        again.evaluate("window.staticml.monitor.flush()")
        again.wait_for_function("window.staticml.monitor.outbox().length === 0")
        received = get_json(drift)["current"]["n"]
        watched.context.close()
    assert received == 20 * 100


# The one waiting summary, copied under fresh ids until `count` wait; returns one's body bytes.
MANY_WAITING = """(count) => {
  const key = "staticml-monitor:wine:outbox";
  const [item] = JSON.parse(localStorage.getItem(key));
  const id = (i) => i.toString(16).padStart(32, "0"); // the collector merges each summary id once
  const copies = Array.from({ length: count }, (_, i) => ({ id: `copy-${i}`, summary: { ...item.summary, id: id(i) } }));
  localStorage.setItem(key, JSON.stringify(copies));
  return new TextEncoder().encode(JSON.stringify(item.summary)).length;
}"""
