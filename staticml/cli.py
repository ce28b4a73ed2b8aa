"""The `staticml` command. Each command parses options and calls one library function."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

import staticml
from staticml.collector.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
)
from staticml.collector.ratelimit import DEFAULT_PER_MINUTE
from staticml.errors import StaticMLError
from staticml.scoring import DEFAULT_CHUNK_ROWS, OUTPUT_FORMATS

DEFAULT_OUT = "dist"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BEACON_PORT = 8001
DEFAULT_DB = "sqlite:///staticml-beacon.db"
EXIT_REFUSED = 4  # staticml retrain: the candidate was judged worse and not published


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(staticml.__version__, prog_name="staticml")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """Ship a model and its Python preprocessing as a static site that predicts in the browser."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    if not verbose:  # Dask (staticml batch --cluster) logs every start and stop at INFO
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _listen_options(
    note: str = "", default_port: int = DEFAULT_PORT
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--host` and `--port` for the commands that run a server."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        port = click.option(
            "--port",
            default=default_port,
            show_default=True,
            type=click.IntRange(0, 65535),
            help=f"Port to listen on{note}.",
        )
        host = click.option(
            "--host", default=DEFAULT_HOST, show_default=True, help=f"Address to listen on{note}."
        )
        return host(port(command))

    return decorate


@cli.command()
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder to write the site to (replaced atomically).",
)
@click.option(
    "--node-modules",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=(
        "node_modules holding the pinned runtimes (default: $STATICML_NODE_MODULES, else "
        "./node_modules, else the checkout's); its files must match staticml's pinned digests."
    ),
)
@click.option(
    "--verify",
    is_flag=True,
    help="Run the built site in headless Chromium: the runtime must start and every sample "
    "must match its CPython reference.",
)
@click.option(
    "--compress",
    default=None,
    metavar="off|auto|VARIANT",
    help="Override compress.mode: off ships the model as given, auto the smallest variant that "
    "passes the accuracy gate, a variant name (fp16, int8-dynamic, ...) that one.",
)
@click.option("--serve", "then_serve", is_flag=True, help="Serve the site after building it.")
@_listen_options(" (with --serve)")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def build(
    app_dir: Path,
    out: Path,
    node_modules: Path | None,
    verify: bool,
    compress: str | None,
    then_serve: bool,
    host: str,
    port: int,
    quiet: bool,
) -> None:
    """Build the app in APP_DIR (it holds staticml.toml) into a static site."""
    from staticml.config import load_config, with_compress_mode
    from staticml.progress import RichReporter, SilentReporter
    from staticml.stages import build_app
    from staticml.summary import print_summary

    with _user_errors():
        config = with_compress_mode(load_config(app_dir), compress)
        reporter = SilentReporter() if quiet else RichReporter()
        result = build_app(config, out, node_modules=node_modules, reporter=reporter, verify=verify)
        if not quiet:
            print_summary(result, next_step=None if then_serve else f"staticml serve {out}")
        if then_serve:
            from staticml.serve import serve as run_server

            run_server(result.out_dir, host=host, port=port)


@cli.command()
@click.argument("site_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT)
@_listen_options()
def serve(site_dir: Path, host: str, port: int) -> None:
    """Serve a built site (default: dist) with the headers it needs."""
    from staticml.serve import serve as run_server

    with _user_errors():
        run_server(site_dir, host=host, port=port)


@cli.command()
@click.argument("site_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT)
def verify(site_dir: Path) -> None:
    """Run a built site (default: dist) in headless Chromium and check it against its samples."""
    from staticml.verify import verify_site

    with _user_errors():
        click.echo(verify_site(site_dir).describe())


_bundle_option = click.option(
    "--bundle",
    "bundles",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A built site (holding bundle.json and its baseline); repeat for each release.",
)
_db_option = click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DATABASE.",
)


@cli.command()
@_bundle_option
@_db_option
@_listen_options(default_port=DEFAULT_BEACON_PORT)
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
    help="Requests per minute accepted from one client address.",
)
@click.option(
    "--site",
    "site_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A site of releases (staticml release): accept every release in it.",
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
) -> None:
    """Collect drift summaries from the pages of the given bundles' releases."""
    from staticml.collector.service import run_collector
    from staticml.rollout.site import Site

    with _user_errors():
        if site_dir is not None:
            bundles += tuple(Site(site_dir).release_dirs())
        run_collector(
            bundles,
            db,
            host=host,
            port=port,
            allow_origins=allow_origins,
            rate_limit=rate_limit,
            trusted_proxies=trusted_proxies,
            allowed_hosts=allowed_hosts,
            report_token=report_token,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
        )


@cli.command()
@_db_option
@click.option("--release", required=True, help="The release id (from its bundle.json).")
@click.option(
    "--window", default="24h", show_default=True, help="Length of the window: 24h, 7d, ..."
)
@click.option(
    "--fail-on",
    multiple=True,
    help="Exit 3 when a statistic crosses a threshold, e.g. psi>0.2; repeatable (default psi>=0.2).",
)
@_bundle_option
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
    from staticml.collector.service import check_drift

    with _user_errors():
        status = check_drift(db, release, window, fail_on=fail_on, bundles=bundles, as_json=as_json)
    sys.exit(status)


@cli.command()
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The output table: .csv or .parquet (or see --format).",
)
@click.option(
    "--errors",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The errors file (row, error) [default: OUTPUT's stem + .errors.csv].",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="The output format [default: from OUTPUT's suffix].",
)
@click.option(
    "--chunk-rows",
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    type=click.IntRange(1),
    help="Rows per chunk: one model run, one Dask task.",
)
@click.option(
    "--cluster",
    default=None,
    help="Run on Dask: 'local' (two worker processes) or a scheduler, tcp://HOST:PORT.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def batch(
    bundle: Path,
    input_file: Path,
    output: Path,
    errors: Path | None,
    output_format: str | None,
    chunk_rows: int,
    cluster: str | None,
    quiet: bool,
) -> None:
    """Score a CSV or Parquet file with a built BUNDLE (the folder holding bundle.json)."""
    from staticml.progress import RichReporter, SilentReporter
    from staticml.scoring.job import BatchJob, run_batch

    job = BatchJob(bundle, input_file, output, errors, output_format, chunk_rows, cluster)
    with _user_errors():
        result = run_batch(job, SilentReporter() if quiet else RichReporter())
    click.echo(result.describe())


# --- releases and rollout (docs/rollout.md) -------------------------------------------------

DEFAULT_SITE = "site"
_site_option = click.option(
    "--site",
    "site_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SITE,
    show_default=True,
    help="The site folder holding manifest.json and releases/.",
)


def _show(plan: object) -> None:
    click.echo(plan.describe())  # type: ignore[attr-defined]


@cli.command()
@click.argument("build_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_site_option
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

    with _user_errors():
        site = Site(site_dir)
        release_id = site.add(build_dir, keep=keep)
        click.echo(f"Release {release_id} is in {site_dir}/releases/{release_id}/.")
        _show(site.state())


@cli.command()
@click.argument("release_id", metavar="RELEASE")
@_site_option
def promote(release_id: str, site_dir: Path) -> None:
    """Give RELEASE to everyone from their next page load (ends a canary, A/B test or bandit)."""
    from staticml.rollout.site import Site

    with _user_errors():
        _show(Site(site_dir).promote(release_id))


@cli.command()
@_site_option
def rollback(site_dir: Path) -> None:
    """Abort a canary, A/B test or bandit; with none running, return to the previous release."""
    from staticml.rollout.site import Site

    with _user_errors():
        _show(Site(site_dir).rollback())


@cli.command()
@click.argument("release_id", metavar="RELEASE")
@click.option(
    "--percent",
    required=True,
    type=float,
    help="Share of browsers that get RELEASE; raising it keeps those who had it.",
)
@_site_option
def canary(release_id: str, percent: float, site_dir: Path) -> None:
    """Give RELEASE to a percentage of browsers, the stable release to the rest."""
    from staticml.rollout.site import Site

    with _user_errors():
        _show(Site(site_dir).canary(release_id, percent))


@cli.command()
@click.argument("release_id", metavar="RELEASE", required=False)
@click.option("--stop", is_flag=True, help="Stop shadowing.")
@_site_option
def shadow(release_id: str | None, stop: bool, site_dir: Path) -> None:
    """Run RELEASE's model beside every prediction and report how it compares."""
    from staticml.rollout.site import Site

    with _user_errors():
        if stop == (release_id is not None):
            raise StaticMLError("Give a RELEASE to shadow, or --stop (not both).")
        _show(Site(site_dir).shadow(release_id))


@cli.command()
@click.argument("releases", metavar="RELEASE RELEASE...", nargs=-1, required=True)
@_site_option
def ab(releases: tuple[str, ...], site_dir: Path) -> None:
    """Split browsers evenly between two or more releases (an A/B test)."""
    from staticml.rollout.site import Site

    with _user_errors():
        _show(Site(site_dir).split(releases, mode="ab"))


@cli.group()
def bandit() -> None:
    """A Thompson-sampling bandit over releases, fed by feedback outcomes."""


@bandit.command("start")
@click.argument("releases", metavar="RELEASE RELEASE...", nargs=-1, required=True)
@_site_option
def bandit_start(releases: tuple[str, ...], site_dir: Path) -> None:
    """Start a bandit over the releases with equal shares."""
    from staticml.rollout.site import Site

    with _user_errors():
        _show(Site(site_dir).split(releases, mode="bandit"))


@bandit.command("update")
@_db_option
@_site_option
@click.option(
    "--window", default="7d", show_default=True, help="Outcomes from this long ago: 24h, 7d, ..."
)
@click.option(
    "--min-share",
    default=0.1,
    show_default=True,
    type=float,
    help="Every arm keeps at least this share.",
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
    """Recompute the bandit's shares from the collector's outcome counts; write the manifest."""
    from staticml.rollout.bandit import Guardrails
    from staticml.rollout.service import bandit_update as update

    with _user_errors():
        rails = Guardrails(min_share=min_share, max_change=max_change)
        _show(update(site_dir, db, window=window, rails=rails, seed=seed))


@cli.command()
@_site_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan and history as JSON.")
def status(site_dir: Path, as_json: bool) -> None:
    """Show the site's plan, its releases and the history of changes."""
    import json

    from staticml.rollout.site import Site

    with _user_errors():
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
        _show(plan)
        click.echo(f"Releases (oldest first): {', '.join(site.releases()) or 'none'}")
        for entry in site.history()[-10:]:
            click.echo(f"  {entry['time']}  {entry['action']:<13} {entry.get('release') or ''}")


@cli.command()
@_db_option
@click.option(
    "--window", default="24h", show_default=True, help="Length of the window: 24h, 7d, ..."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def outcomes(db: str, window: str, as_json: bool) -> None:
    """Feedback outcome rates per release with 95% intervals and significance; shadow agreement."""
    from staticml.rollout.service import print_outcomes

    with _user_errors():
        print_outcomes(db, window, as_json=as_json)


@contextmanager
def _user_errors() -> Iterator[None]:
    """At the edge: a StaticMLError becomes `Error: message` and exit status 1, not a traceback."""
    try:
        yield
    except StaticMLError as error:
        raise click.ClickException(str(error)) from error


_registry_option = click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where lineage and estimators are kept (default: SITE.registry beside the site).",
)
_mode_option = click.option(
    "--mode",
    type=click.Choice(["stateless", "stateful"]),
    default="stateful",
    show_default=True,
    help="stateless: train.stateless fits from scratch; stateful: train.stateful continues the "
    "current model on the new data only.",
)


@cli.command()
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="New labelled records: CSV (fields plus the label column) or JSON [{record, label}].",
)
@_mode_option
@_site_option
@_registry_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def retrain(
    app_dir: Path, data: Path, mode: str, site_dir: Path, registry: Path | None, quiet: bool
) -> None:
    """Retrain APP_DIR's model on new data; publish it as a shadow release if it is not worse
    than the stable release beyond the budget (exit 4 when it is refused)."""
    from staticml.learning.retrain import retrain as run_retrain
    from staticml.progress import RichReporter, SilentReporter

    with _user_errors():
        result = run_retrain(
            app_dir,
            data,
            site_dir,
            mode=mode,
            registry=registry,
            reporter=SilentReporter if quiet else RichReporter,
        )
    click.echo(result.describe())
    sys.exit(0 if result.published else EXIT_REFUSED)


@cli.command()
@_db_option
@_site_option
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
@_mode_option
@_registry_option
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

    with _user_errors():
        decision = run_watch(app_dir, site_dir, db, data, mode=mode, registry=registry)
    click.echo(f"{decision.action}: " + "; ".join(decision.reasons))


@cli.command()
@_site_option
@_registry_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON lines.")
def lineage(site_dir: Path, registry: Path | None, as_json: bool) -> None:
    """The retraining history: each candidate, its parent, data fingerprint, metrics, verdict."""
    import json

    from staticml.learning.lineage import Registry, default_registry

    with _user_errors():
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


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="staticml")


if __name__ == "__main__":
    main()
