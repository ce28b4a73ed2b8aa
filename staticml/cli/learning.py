"""Continual learning (docs/continual-learning.md): retrain, watch and lineage."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from staticml.cli.options import db_option, mode_option, registry_option, site_option, user_errors

EXIT_REFUSED = 4  # staticml retrain: the candidate was judged worse and not published


@click.command()
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="New labelled records: CSV (fields plus the label column) or JSON [{record, label}].",
)
@mode_option
@site_option
@registry_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def retrain(
    app_dir: Path, data: Path, mode: str, site_dir: Path, registry: Path | None, quiet: bool
) -> None:
    """Retrain APP_DIR's model on new data; publish it as a shadow release if it is not worse
    than the stable release beyond the budget (exit 4 when it is refused)."""
    from staticml.learning.retrain import retrain as run_retrain
    from staticml.progress import SilentReporter, stderr_reporter

    with user_errors():
        result = run_retrain(
            app_dir,
            data,
            site_dir,
            mode=mode,
            registry=registry,
            reporter=SilentReporter if quiet else stderr_reporter,
        )
    click.echo(result.describe())
    sys.exit(0 if result.published else EXIT_REFUSED)


@click.command()
@db_option
@site_option
@click.option(
    "--app",
    "app_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The app directory (its staticml.toml sets the triggers and the promotion policy).",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="New labelled records to retrain on when drift crosses a trigger.",
)
@mode_option
@registry_option
def watch(
    db: str,
    site_dir: Path,
    app_dir: Path,
    data: Path | None,
    mode: str,
    registry: Path | None,
) -> None:
    """One look at the evidence (for cron): judge a running canary or shadow, or retrain when
    the stable release's drift report crosses a trigger. Logs the decision and its reason."""
    from staticml.learning.watch import watch as run_watch

    with user_errors():
        decision = run_watch(app_dir, site_dir, db, data, mode=mode, registry=registry)
    click.echo(f"{decision.action}: " + "; ".join(decision.reasons))


@click.command()
@site_option
@registry_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON lines.")
def lineage(site_dir: Path, registry: Path | None, as_json: bool) -> None:
    """The retraining history: each candidate, its parent, data fingerprint, metrics, verdict."""
    import json

    from staticml.learning.lineage import Registry, default_registry

    with user_errors():
        entries = Registry(registry or default_registry(site_dir)).entries()
    for entry in entries:
        if as_json:
            click.echo(json.dumps(entry, sort_keys=True))
            continue
        click.echo(
            f"{entry['time']}  {entry['mode']:<9} {entry['parent']} → "
            f"{entry['release'] or entry['candidate']} ({entry['status']}): "
            f"{entry['data']['rows']} rows, sha256 {entry['data']['sha256'][:12]}"
        )
        for reason in entry["reasons"]:
            click.echo(f"    {reason}")


COMMANDS = (retrain, watch, lineage)
