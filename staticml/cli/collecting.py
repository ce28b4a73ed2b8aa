"""`staticml beacon` and `staticml drift`: collect the pages' summaries, report drift."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from staticml.cli.options import (
    DEFAULT_BEACON_PORT,
    bundle_option,
    db_option,
    listen_options,
    user_errors,
)
from staticml.collector.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_CONNECTIONS,
)
from staticml.collector.ratelimit import DEFAULT_PER_MINUTE
from staticml.errors import StaticMLError


@click.command()
@bundle_option
@db_option
@listen_options(default_port=DEFAULT_BEACON_PORT)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    help="An origin (https://host[:port]) whose pages may send summaries with CORS; repeatable.",
)
@click.option(
    "--rate-limit",
    default=DEFAULT_PER_MINUTE,
    show_default=True,
    type=click.IntRange(1),
    help="Requests per minute accepted from one client address, per collector process: with "
    "--workers N a client may get up to N times as many.",
)
@click.option(
    "--site",
    "site_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A site of releases (staticml release): accept every release in it, and those "
    "released into it while the collector runs.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    help="An address (or network) of your reverse proxy: X-Forwarded-For is read only from "
    "these; repeatable (default: never read).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name the reports, dashboard and /healthz answer for; repeatable, * for any "
    "(default: --host, localhost, 127.0.0.1, ::1).",
)
@click.option(
    "--report-token",
    envvar="STATICML_REPORT_TOKEN",
    default=None,
    help="A secret the reports and dashboard require (Bearer, or the password of Basic); "
    "better given as $STATICML_REPORT_TOKEN. Summaries need none.",
)
@click.option(
    "--header-timeout",
    default=DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a connection has to send a request's headers.",
)
@click.option(
    "--body-timeout",
    default=DEFAULT_BODY_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds each part of a request body may take to arrive.",
)
@click.option(
    "--max-connections",
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    type=click.IntRange(1),
    help="Open connections at most; past it the oldest idle one is closed.",
)
@click.option(
    "--batch-max",
    "max_batch",
    default=DEFAULT_MAX_BATCH,
    show_default=True,
    type=click.IntRange(1),
    help="Summaries committed together at most: those that arrive while a commit runs share "
    "the next transaction (1: each its own).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Collector processes serving the port, each with one database connection and its own "
    "rate limits; more than 1 needs PostgreSQL.",
)
def beacon(
    bundles: tuple[Path, ...],
    db: str,
    host: str,
    port: int,
    allow_origins: tuple[str, ...],
    rate_limit: int,
    site_dir: Path | None,
    trusted_proxies: tuple[str, ...],
    allowed_hosts: tuple[str, ...],
    report_token: str | None,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    max_batch: int,
    workers: int,
) -> None:
    """Collect drift summaries from the pages of the given bundles' releases."""
    from staticml.collector.fleet import check_workers, serve_fleet
    from staticml.collector.service import check_proxies, prepare_collector
    from staticml.rollout.site import Site

    with user_errors():
        site_releases = None if site_dir is None else Site(site_dir).releases_folder
        if not bundles and site_releases is None:
            raise StaticMLError(
                "No bundle given: pass --bundle DIR for each release to accept, or --site SITE "
                "for every release of a site."
            )
        check_proxies(trusted_proxies, given_as="--trusted-proxy")
        check_workers(db, workers)
        prepare = functools.partial(
            prepare_collector,
            bundles,
            db,
            host=host,
            allow_origins=allow_origins,
            rate_limit=rate_limit,
            trusted_proxies=trusted_proxies,
            allowed_hosts=allowed_hosts,
            report_token=report_token,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
            max_batch=max_batch,
            site_releases=site_releases,
        )
        collector = prepare()
    for warning in startup_warnings(host, allow_origins, allowed_hosts):
        click.echo(warning, err=True)
    processes = f" in {workers} processes" if workers > 1 else ""
    click.echo(
        f"Collecting summaries for {', '.join(collector.releases) or 'no release yet'}"
        f"{'' if site_dir is None else f' and releases added to {site_dir}'} on "
        f"http://{host}:{port}/"
        f"{processes} (Ctrl+C to stop)"
    )
    if workers == 1:
        collector.serve(host, port)
        return
    collector.store.close()  # each worker opens its own connection
    with user_errors():
        serve_fleet(prepare, host, port, workers)


@click.command()
@db_option
@click.option("--release", required=True, help="The release id (from its bundle.json).")
@click.option(
    "--window", default="24h", show_default=True, help="Length of the window: 24h, 7d, ..."
)
@click.option(
    "--fail-on",
    multiple=True,
    help="Exit 3 when a statistic crosses a threshold, e.g. psi>0.2 or estimated_accuracy<0.9; "
    "repeatable (default psi>=0.2).",
)
@bundle_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def drift(
    db: str,
    release: str,
    window: str,
    fail_on: tuple[str, ...],
    bundles: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Report skew and drift of a release; exit 3 when a --fail-on condition is crossed."""
    import json

    from staticml.cli.render import print_drift
    from staticml.collector.service import drift_check

    with user_errors():
        check = drift_check(db, release, window, fail_on=fail_on or None, bundles=bundles)
    if as_json:
        click.echo(json.dumps(check.to_json(), indent=2))
    else:
        print_drift(check.report, check.failures)
    sys.exit(check.exit_status)


def startup_warnings(
    host: str, allow_origins: Sequence[str], allowed_hosts: Sequence[str]
) -> list[str]:
    """What `staticml beacon` warns of before it starts, in terms of its options."""
    from staticml.collector.service import LOCAL_NAMES, WILDCARDS

    warnings = []
    if not allow_origins:
        warnings.append(
            "warning: no --allow-origin given. A page served from another origin can send "
            "summaries but cannot read the replies, so it never learns they were stored and "
            "sends them again (each is merged once, by its id). Pass --allow-origin with the "
            "origin of your site, e.g. --allow-origin https://app.example.com."
        )
    if host in WILDCARDS and not allowed_hosts:
        warnings.append(
            f"warning: listening on {host or 'every address'} with no --allowed-host: the "
            "reports, the dashboard and /healthz answer only to requests for "
            f"{', '.join(LOCAL_NAMES)}. Pass --allowed-host with the name clients use."
        )
    return warnings


COMMANDS = (beacon, drift)
