"""What the commands share: defaults, the options several of them take, and the edge where a
StaticMLError becomes a message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from staticml.errors import StaticMLError

DEFAULT_OUT = "dist"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BEACON_PORT = 8001
DEFAULT_DB = "sqlite:///staticml-beacon.db"


def listen_options(
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


bundle_option = click.option(
    "--bundle",
    "bundles",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A built site (holding bundle.json and its baseline); repeat for each release.",
)
db_option = click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DATABASE.",
)

DEFAULT_SITE = "site"
site_option = click.option(
    "--site",
    "site_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SITE,
    show_default=True,
    help="The site folder holding manifest.json and releases/.",
)


def show(plan: object) -> None:
    click.echo(plan.describe())  # type: ignore[attr-defined]


@contextmanager
def user_errors() -> Iterator[None]:
    """At the edge: a StaticMLError becomes `Error: message` and exit status 1, not a traceback."""
    try:
        yield
    except StaticMLError as error:
        raise click.ClickException(str(error)) from error


registry_option = click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where lineage and estimators are kept (default: SITE.registry beside the site).",
)
mode_option = click.option(
    "--mode",
    type=click.Choice(["stateless", "stateful"]),
    default="stateful",
    show_default=True,
    help="stateless: train.stateless fits from scratch; stateful: train.stateful continues the "
    "current model on the new data only.",
)
