"""An A/B test and a bandit on a real served site: the shares new visitors get, feedback from
a real page reaching a real collector, and `staticml bandit update` moving the shares that
new visitors get next."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from staticml.cli import cli
from staticml.rollout import Site
from tests.browser.test_rollout import (
    RELEASE_URL,
    TAIL,
    VISITORS,
    Visitors,
    binomial_bounds,
    bucket,
    expected_release,
    wait_for,
)
from tests.support import get_json
from tests.support.beacon import beacon
from tests.support.browser import watch
from tests.support.rollout import post_feedback, sample_records
from tests.support.serving import serve_subprocess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served_site(tmp_path_factory, wine_releases):
    site = Site(tmp_path_factory.mktemp("ab") / "site")
    a, b = site.add(wine_releases.a), site.add(wine_releases.b)
    with serve_subprocess(site.root, ready="manifest.json") as server:
        yield site, server, a, b


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def collecting(root: str, db: str, origin: str, port: int):
    """A real collector for the site's releases, taking feedback from its pages."""
    return beacon(None, db, "--site", root, "--allow-origin", origin.rstrip("/"), port=port)


def new_visitors(browser, site: Site, origin: str, release: str) -> int:
    """How many of VISITORS new visitors the router sends to `release`, after checking each
    choice against the documented bucket of the visitor's id."""
    visitors = Visitors(browser, origin)
    try:
        plan = site.state()
        visits = [visitors.visit(None) for _ in range(VISITORS)]
        ids = [i for _, i in visits]
        assert len(set(ids)) == VISITORS
        assert [r for r, _ in visits] == [expected_release(plan, bucket(i, plan.salt)) for i in ids]
        visitors.watched.assert_clean()
        return [r for r, _ in visits].count(release)
    finally:
        visitors.watched.context.close()


def test_an_ab_test_then_a_bandit_split_new_visitors_and_learn_from_feedback(
    browser, served_site, wine_releases, tmp_path
):
    site, server, a, b = served_site
    root = str(site.root)
    collector = f"http://127.0.0.1:{wine_releases.collector_port}"
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    run("ab", a, b, "--site", root)
    lo, hi = binomial_bounds(VISITORS, 0.5, TAIL)
    assert lo <= new_visitors(browser, site, server.url, b) <= hi

    with collecting(root, db, server.url, wine_releases.collector_port):
        watched = watch(browser, server.url, allowed=(collector,))
        page = watched.new_page()
        try:
            page.goto(server.url)
            page.wait_for_url(RELEASE_URL)
            landed = RELEASE_URL.search(page.url)[1]
            assert landed in (a, b)
            page.evaluate("window.staticml.ready")
            for record in sample_records()[:5]:
                page.evaluate("(r) => window.staticml.predict(r)", record)
                page.locator("#feedback-right").click()
            report = wait_for(
                lambda: get_json(collector + "/v1/rollout"),
                lambda r: r["variants"].get(landed, {}).get("right", 0) >= 5,
            )
            assert report["variants"][landed]["right"] == 5
            watched.assert_clean()
        finally:
            watched.context.close()

        run("bandit", "start", a, b, "--site", root)
        assert post_feedback(collector, a, 150, 150) == 202  # a looks worse, not yet shown worse
        assert post_feedback(collector, b, 180, 120) == 202
        run("bandit", "update", "--db", db, "--site", root, "--seed", "1")
    shares = {route.release: route.share for route in site.state().routes}
    assert shares[b] == pytest.approx(0.7) and shares[a] == pytest.approx(0.3)  # max change
    checks = site.history()[-1]["decision"]["against_leader"]
    assert checks["leader"] == b and not checks[a]["shown_worse"]
    lo, hi = binomial_bounds(VISITORS, 0.7, TAIL)
    assert lo <= new_visitors(browser, site, server.url, b) <= hi

    with collecting(root, db, server.url, wine_releases.collector_port):
        assert post_feedback(collector, a, 150, 550) == 202  # now a is shown worse: retired
        assert post_feedback(collector, b, 630, 70) == 202
        said = run("bandit", "update", "--db", db, "--site", root, "--seed", "2")
    assert f"Retired {a}: shown worse than {b}" in said
    assert {route.release: route.share for route in site.state().routes} == {a: 0.0, b: 1.0}
    assert new_visitors(browser, site, server.url, b) == VISITORS
    site.promote(b)
