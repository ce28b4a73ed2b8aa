"""The monitored wine site of the browser monitoring tests: built with a collector URL, and
driven as a visitor whose summaries go to that collector."""

from __future__ import annotations

import csv
import random
import shutil

import staticml
from tests.support import ROOT
from tests.support.beacon import beacon
from tests.support.browser import watch

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


ONE_WAITING = "() => window.staticml.monitor.outbox().length === 1"
