"""`staticml watch` from cron on a live site, end to end: a real `staticml beacon --site`
that accepts a release added after it started, feedback posted to it over HTTP, and a look
after every batch until the canary is decided."""

from __future__ import annotations

from click.testing import CliRunner

from staticml.cli import cli
from staticml.rollout import Site
from staticml.runtime.contract import MANIFEST, ReleaseListing
from tests.support.beacon import beacon
from tests.support.rollout import WINE, post_feedback


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_watch_waits_then_promotes_a_canary_released_while_the_collector_ran(
    tmp_path, wine_releases
):
    site = tmp_path / "site"
    stable = Site(site).add(wine_releases.a)
    canary = ReleaseListing.read(wine_releases.b / MANIFEST).release
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    watch = ("watch", "--app", str(WINE), "--site", str(site), "--db", db)
    with beacon(None, db, "--site", str(site)) as collector:
        assert post_feedback(collector.url, canary, 1, 0) == 422  # not released yet
        run("release", str(wine_releases.b), "--site", str(site))
        run("canary", canary, "--percent", "10", "--site", str(site))
        assert post_feedback(collector.url, canary, 200, 50) == 202  # accepted without a restart
        assert post_feedback(collector.url, stable, 1800, 450) == 202

        first = run(*watch)
        assert first.startswith("wait: outcomes: ") and "more canary outcomes" in first
        outcomes = " ".join(run("outcomes", "--db", db).split())  # as read, not as wrapped
        assert f"{canary} vs {stable}" in outcomes or f"{stable} vs {canary}" in outcomes
        assert "difference +0.0%, 95% confidence sequence -" in outcomes
        assert "no difference shown, and none would be at the current rates" in outcomes

        for _ in range(3):  # 2,500 canary and 22,500 stable outcomes, 80% right each
            assert post_feedback(collector.url, canary, 600, 150) == 202
            assert post_feedback(collector.url, stable, 5400, 1350) == 202
        decided = run(*watch)
    assert decided.startswith("promote: ") and "shown not worse" in decided
    assert Site(site).state().stable == canary
