"""A collector on a live site accepts a release added while it runs, without a restart."""

from __future__ import annotations

import json
import logging

from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.live import LiveReleases
from staticml.collector.stores import open_store
from tests.support.collector import HOUR, RELEASE, wine_baseline, write_bundle

ADDED = "0123456789ab"


def feedback(release: str) -> str:
    body = {"v": 1, "release": release, "hour": HOUR, "shadow": None}
    return json.dumps(body | {"feedback": {"right": 3, "wrong": 1}})


def test_a_release_added_to_the_folder_is_accepted_and_its_baseline_saved(tmp_path):
    releases = tmp_path / "site" / "releases"
    write_bundle(releases / RELEASE, wine_baseline())
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    try:
        live = LiveReleases({}, releases, store.save_baseline)
        app = create_collector_app(live, store)
        with TestClient(app) as client:
            assert client.post("/v1/rollout", content=feedback(RELEASE)).status_code == 202
            refused = client.post("/v1/rollout", content=feedback(ADDED))
            assert refused.status_code == 422 and "release" in refused.text
            staging = releases / f".{ADDED}.partial"  # as a release is copied, before its rename
            write_bundle(staging, wine_baseline(), release=ADDED)
            assert client.post("/v1/rollout", content=feedback(ADDED)).status_code == 422
            staging.rename(releases / ADDED)
            assert client.post("/v1/rollout", content=feedback(ADDED)).status_code == 202
            assert client.get("/healthz").json()["releases"] == sorted([RELEASE, ADDED])
        assert set(store.baselines()) == {RELEASE, ADDED}
    finally:
        store.close()


def test_a_folder_that_is_not_a_release_is_skipped_with_a_warning(tmp_path, caplog):
    releases = tmp_path / "releases"
    (releases / "notes").mkdir(parents=True)
    saved: list[str] = []
    with caplog.at_level(logging.WARNING, logger="staticml.collector"):
        live = LiveReleases({}, releases, lambda release, text: saved.append(release))
    assert list(live) == [] and saved == []
    assert "notes is not accepted" in caplog.text and "bundle.json" in caplog.text


def test_without_a_releases_folder_yet_nothing_is_accepted(tmp_path):
    live = LiveReleases({}, tmp_path / "missing", lambda release, text: None)
    assert len(live) == 0 and RELEASE not in live
