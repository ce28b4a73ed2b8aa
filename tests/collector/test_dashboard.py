"""The dashboard's release links with many releases: pages of PAGE_SIZE, previous and next."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs

import pytest
from starlette.testclient import TestClient

from staticml.collector.app import create_collector_app
from staticml.collector.dashboard import PAGE_SIZE
from staticml.collector.stores import open_store
from tests.support.collector import wine_baseline

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
RELEASES = sorted(f"{i * 7919 % 100_000:05d}release" for i in range(2 * PAGE_SIZE + 5))
_LINK = re.compile(r'<a(?: rel=(prev|next))? href="\?([^"]*)">([^<]*)</a>')


@pytest.fixture
def client(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    baselines = {release: wine_baseline() for release in reversed(RELEASES)}
    app = create_collector_app(baselines, store, clock=lambda: NOW)
    with TestClient(app) as client:
        yield client
    store.close()


def links(page: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The release links of a dashboard page, and its previous/next links' queries."""
    releases, turns = [], {}
    for rel, href, text in _LINK.findall(page):
        query = {k: v[0] for k, v in parse_qs(unescape(href)).items()}
        if rel:
            turns[rel] = query
        else:
            assert query["release"] == unescape(text)
            releases.append(unescape(text))
    return releases, turns


def test_next_links_walk_every_release_once_in_pages_of_page_size(client):
    seen, query, pages = [], {"release": RELEASES[0], "window": "7d"}, 0
    while True:
        response = client.get("/", params=query)
        assert response.status_code == 200, response.text
        pages += 1
        assert f"page {pages} of 3" in response.text
        releases, turns = links(response.text)
        assert len(releases) == (PAGE_SIZE if pages < 3 else 5)
        assert ("prev" in turns) == (pages > 1)
        seen += releases
        if "next" not in turns:
            break
        query = turns["next"]
        assert query == {"release": RELEASES[0], "window": "7d", "page": str(pages + 1)}
    assert seen == RELEASES


def test_previous_goes_back_a_page(client):
    page = client.get("/", params={"release": RELEASES[0], "page": "3"}).text
    _, turns = links(page)
    back = client.get("/", params=turns["prev"]).text
    assert links(back)[0] == RELEASES[PAGE_SIZE : 2 * PAGE_SIZE]
    assert "page 2 of 3" in back


def test_without_a_page_the_dashboard_shows_the_page_of_its_release(client):
    chosen = RELEASES[PAGE_SIZE + 3]
    page = client.get("/", params={"release": chosen}).text
    assert f"Drift of release {chosen}" in page
    assert "page 2 of 3" in page and chosen in links(page)[0]


@pytest.mark.parametrize("page", ["0", "4", "-1", "two", "1.5", "9" * 5000, "²"])
def test_a_page_that_does_not_exist_is_422_naming_it(client, page):
    response = client.get("/", params={"release": RELEASES[0], "page": page})
    assert response.status_code == 422
    assert response.json()["key"] == "page"
    assert "from 1 to 3" in response.json()["error"]


def test_one_page_of_releases_has_no_page_links(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'beacon.db'}")
    app = create_collector_app({"only": wine_baseline()}, store, clock=lambda: NOW)
    with TestClient(app) as client:
        page = client.get("/").text
    store.close()
    assert links(page) == (["only"], {})
    assert "page 1" not in page
