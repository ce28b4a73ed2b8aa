"""`staticml new`: start an app from a model file, or from a small working example."""

from __future__ import annotations

from pathlib import Path

import click

from staticml.cli.options import user_errors


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--model",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The model: an ONNX file, or a fitted scikit-learn estimator or pipeline saved with "
    "joblib or pickle (.joblib, .pkl or .pickle, whichever wrote it; loading a pickle runs code from it: use your own). Without it, a small "
    "iris example.",
)
def new(folder: Path, model: Path | None) -> None:
    """Write a new app into FOLDER (new or empty): staticml.toml with one field per model
    input, a preprocessing package, samples.csv and a README. It builds as it is."""
    from staticml.scaffold import new_app

    with user_errors():
        click.echo(new_app(folder, model).describe())


COMMANDS = (new,)
