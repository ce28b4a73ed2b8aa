"""The dashboard's rollout section: intervals and what it would take to decide, as shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import unescape

from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.stores import open_store
from tests.support.collector import HOUR, RELEASE, wine_baseline

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
OTHER = "0123456789ab"


def feedback(release: str, right: int, wrong: int) -> str:
    body = {"v": 1, "release": release, "hour": HOUR, "shadow": None}
    return json.dumps(body | {"feedback": {"right": right, "wrong": wrong}})


def page(tmp_path, *bodies: str) -> str:
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    app = create_collector_app(
        {RELEASE: wine_baseline(), OTHER: wine_baseline()}, store, clock=lambda: NOW
    )
    try:
        with TestClient(app) as client:
            for body in bodies:
                sent = client.post("/v1/rollout", content=body)
                assert sent.status_code == 202, sent.text
            shown = client.get("/", params={"release": RELEASE})
            assert shown.status_code == 200, shown.text
            return unescape(shown.text)
    finally:
        store.close()


def test_the_dashboard_shows_each_interval_and_the_outcomes_still_needed(tmp_path):
    shown = page(tmp_path, feedback(RELEASE, 160, 40), feedback(OTHER, 150, 50))
    assert "<h2>Rollout: feedback and shadows</h2>" in shown
    assert f"<td>{RELEASE}</td><td>160</td><td>40</td><td>80.0%</td><td>" in shown
    assert f"<td>{OTHER} - {RELEASE}</td><td>-5.0%</td>" in shown
    assert "undecided: about " in shown and " more outcomes at the current rates" in shown


def test_a_shown_difference_names_the_better_release(tmp_path):
    shown = page(tmp_path, feedback(RELEASE, 9000, 1000), feedback(OTHER, 5000, 5000))
    assert f"{RELEASE} is better" in shown and "undecided" not in shown


def test_without_feedback_the_dashboard_has_no_rollout_section(tmp_path):
    assert "Rollout: feedback" not in page(tmp_path)
