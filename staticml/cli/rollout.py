"""Releases and rollout (docs/rollout.md): release, promote, rollback, canary, shadow, ab,
bandit, status and outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from staticml.cli.options import db_option, show, site_option, user_errors
from staticml.errors import StaticMLError


@click.command()
@click.argument("build_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@site_option
@click.option(
    "--keep",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Releases to keep besides those the manifest or a rollback still needs.",
)
def release(build_dir: Path, site_dir: Path, keep: int) -> None:
    """Copy a build into the site as an immutable release (the first one becomes stable)."""
    from staticml.rollout.site import Site

    with user_errors():
        site = Site(site_dir)
        release_id = site.add(build_dir, keep=keep)
        click.echo(f"Release {release_id} is in {site_dir}/releases/{release_id}/.")
        show(site.state())


@click.command()
@click.argument("release_id", metavar="RELEASE")
@site_option
def promote(release_id: str, site_dir: Path) -> None:
    """Give RELEASE to everyone from their next page load (ends a canary, A/B test or bandit)."""
    from staticml.rollout.site import Site

    with user_errors():
        show(Site(site_dir).promote(release_id))


@click.command()
@site_option
def rollback(site_dir: Path) -> None:
    """Abort a canary, A/B test or bandit; with none running, return to the previous release."""
    from staticml.rollout.site import Site

    with user_errors():
        show(Site(site_dir).rollback())


@click.command()
@click.argument("release_id", metavar="RELEASE")
@click.option(
    "--percent",
    required=True,
    type=float,
    help="Share of browsers that get RELEASE; raising it keeps those who had it.",
)
@site_option
def canary(release_id: str, percent: float, site_dir: Path) -> None:
    """Give RELEASE to a percentage of browsers, the stable release to the rest."""
    from staticml.rollout.site import Site

    with user_errors():
        show(Site(site_dir).canary(release_id, percent))


@click.command()
@click.argument("release_id", metavar="RELEASE", required=False)
@click.option("--stop", is_flag=True, help="Stop shadowing.")
@site_option
def shadow(release_id: str | None, stop: bool, site_dir: Path) -> None:
    """Run RELEASE's model beside every prediction and report how it compares."""
    from staticml.rollout.site import Site

    with user_errors():
        if stop == (release_id is not None):
            raise StaticMLError("Give a RELEASE to shadow, or --stop (not both).")
        show(Site(site_dir).shadow(release_id))


@click.command()
@click.argument("releases", metavar="RELEASE RELEASE...", nargs=-1, required=True)
@site_option
def ab(releases: tuple[str, ...], site_dir: Path) -> None:
    """Split browsers evenly between two or more releases (an A/B test)."""
    from staticml.rollout.site import Site

    with user_errors():
        show(Site(site_dir).split(releases, mode="ab"))


@click.group()
def bandit() -> None:
    """A Thompson-sampling bandit over releases, fed by feedback outcomes."""


@bandit.command("start")
@click.argument("releases", metavar="RELEASE RELEASE...", nargs=-1, required=True)
@site_option
def bandit_start(releases: tuple[str, ...], site_dir: Path) -> None:
    """Start a bandit over the releases with equal shares."""
    from staticml.rollout.site import Site

    with user_errors():
        show(Site(site_dir).split(releases, mode="bandit"))


@bandit.command("update")
@db_option
@site_option
@click.option(
    "--window", default="7d", show_default=True, help="Outcomes from this long ago: 24h, 7d, ..."
)
@click.option(
    "--min-share",
    default=0.1,
    show_default=True,
    type=float,
    help="Every arm not retired keeps at least this share.",
)
@click.option(
    "--max-change",
    default=0.2,
    show_default=True,
    type=float,
    help="No share moves more than this in one update.",
)
@click.option("--seed", default=None, type=int, help="Seed the sampling (reproducible decisions).")
def bandit_update(
    db: str, site_dir: Path, window: str, min_share: float, max_change: float, seed: int | None
) -> None:
    """Recompute the bandit's shares from the collector's outcome counts; write the manifest.

    An arm shown worse than the leading arm (anytime-valid, 95%) is retired: share 0."""
    from staticml.rollout.bandit import Guardrails, describe_guardrail
    from staticml.rollout.service import bandit_update as update
    from staticml.rollout.site import Site

    with user_errors():
        rails = Guardrails(min_share=min_share, max_change=max_change)
        show(update(site_dir, db, window=window, rails=rails, seed=seed))
        for line in describe_guardrail(Site(site_dir).history()[-1]["decision"]):
            click.echo(line)


@click.command()
@site_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan and history as JSON.")
def status(site_dir: Path, as_json: bool) -> None:
    """Show the site's plan, its releases and the history of changes."""
    import json

    from staticml.rollout.site import Site

    with user_errors():
        site = Site(site_dir)
        plan = site.state()
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "plan": plan.to_json(),
                        "releases": site.releases(),
                        "history": site.history(),
                    },
                    indent=1,
                )
            )
            return
        show(plan)
        click.echo(f"Releases (oldest first): {', '.join(site.releases()) or 'none'}")
        click.echo("History (last 10; each change's traffic per release after it):")
        for entry in site.history()[-10:]:
            click.echo(history_line(entry))


def history_line(entry: dict[str, Any]) -> str:
    """One change: when, what, to which release, and the share of visitors each release got."""
    plan = entry.get("plan") or {}
    traffic = ", ".join(f"{r['release']} {r['share']:.1%}" for r in plan.get("routes", []))
    shadow = f"; shadow {plan['shadow']}" if plan.get("shadow") else ""
    return (
        f"  {entry['time']}  {entry['action']:<13} {entry.get('release') or '':<12}  "
        f"traffic: {traffic or 'none'}{shadow}"
    )


@click.command()
@db_option
@click.option(
    "--window", default="24h", show_default=True, help="Length of the window: 24h, 7d, ..."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def outcomes(db: str, window: str, as_json: bool) -> None:
    """Feedback outcome rates per release with 95% intervals and significance; shadow agreement."""
    import json

    from staticml.cli.render import print_outcomes
    from staticml.rollout.service import outcomes_report

    with user_errors():
        report = outcomes_report(db, window)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_outcomes(report, window)


COMMANDS = (release, promote, rollback, canary, shadow, ab, bandit, status, outcomes)
