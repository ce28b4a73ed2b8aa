"""The `staticml` command. Each command parses options, calls one library function and shows
what it returned: only this package prints."""

from __future__ import annotations

import logging
import os

import click

from staticml.cli import authoring, building, collecting, learning, rollout, runtimes, scoring
from staticml.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="staticml")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """Ship a model and its Python preprocessing as a static site that predicts in the browser."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    if not verbose:  # Dask (staticml batch --cluster) logs every start and stop at INFO
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


for module in (authoring, building, scoring, collecting, rollout, learning, runtimes):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="staticml")
