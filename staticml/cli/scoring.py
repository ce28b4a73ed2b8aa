"""`staticml batch`: score a table with a built bundle, here or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import click

from staticml.cli.options import user_errors
from staticml.scoring import DEFAULT_CHUNK_ROWS, OUTPUT_FORMATS


@click.command()
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
    from staticml.progress import SilentReporter, stderr_reporter
    from staticml.scoring.job import BatchJob, run_batch

    job = BatchJob(bundle, input_file, output, errors, output_format, chunk_rows, cluster)
    with user_errors():
        result = run_batch(job, SilentReporter() if quiet else stderr_reporter())
    click.echo(result.describe())


COMMANDS = (batch,)
