"""`staticml runtimes`: which browser runtimes a build would use, and `fetch` to cache them."""

from __future__ import annotations

from pathlib import Path

import click

from staticml.cli.options import user_errors


@click.group(invoke_without_command=True)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The cache to list or fill (default: $STATICML_CACHE_DIR, else ~/.cache/staticml).",
)
@click.pass_context
def runtimes(context: click.Context, cache_dir: Path | None) -> None:
    """List the pinned browser runtimes: where a build takes each from, and what is cached."""
    from staticml.cache import default_cache_dir

    context.obj = cache_dir or default_cache_dir()
    if context.invoked_subcommand is None:
        _list(context.obj)


def _list(cache_dir: Path) -> None:
    from staticml.figures import human_size
    from staticml.runtime_cache import cached_runtimes, runtimes_dir, sources

    click.echo("Pinned runtimes (where the next build takes each from):")
    for source in sources(None, cache_dir):
        name = f"{source.spec.package} {source.spec.version}"
        where = {
            "node_modules": f"node_modules  {source.path}",
            "cache": f"cached        {source.path}",
            "missing": "not cached    the next build downloads it (or: staticml runtimes fetch)",
        }[source.kind]
        click.echo(f"  {name:<24}{where}")
    cached = cached_runtimes(cache_dir)
    click.echo(f"Cache {runtimes_dir(cache_dir)}: {len(cached)} runtime(s)")
    for entry in cached:
        name = f"{entry.package} {entry.version}"
        click.echo(f"  {name:<24}{human_size(entry.size):>10}  {entry.folder}  from {entry.source}")


@runtimes.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def fetch(cache_dir: Path, quiet: bool) -> None:
    """Download the pinned runtimes into the cache (then builds need no network)."""
    from staticml.progress import SilentReporter, stderr_reporter
    from staticml.runtime_cache import fetch_all

    reporter = SilentReporter() if quiet else stderr_reporter()
    with user_errors():
        try:
            fetched = fetch_all(cache_dir, reporter)
        finally:
            reporter.finish()
    for entry in fetched:
        click.echo(f"{entry.package} {entry.version}: {entry.folder}")


COMMANDS = (runtimes,)
