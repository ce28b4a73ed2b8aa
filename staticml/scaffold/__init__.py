"""`staticml new`: a buildable app from a model file, or a small working example.

    model file ─ model_inputs (inputs.py: fields, ranges, classes) ─ files.py ─ the app folder

Without a model the example is an iris classifier (scikit-learn's bundled copy of the data,
no download), saved as `model.joblib` and then scaffolded like any model file, with real
iris rows as its samples.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from staticml.errors import ConfigError
from staticml.scaffold.example import (
    EXAMPLE_SAMPLES,
    EXAMPLE_TITLE,
    example_model,
    example_samples,
)
from staticml.scaffold.files import (
    MADE_UP,
    preprocess_text,
    readme_text,
    samples_text,
    toml_text,
)
from staticml.scaffold.inputs import ModelInputs, model_inputs

__all__ = ["NewApp", "new_app"]


@dataclass(frozen=True)
class NewApp:
    folder: Path
    files: tuple[str, ...]  # written, relative to `folder`
    inputs: ModelInputs
    samples: str  # what samples.csv holds

    def describe(self) -> str:
        listed = "\n".join(f"  {name}" for name in self.files)
        bounded = sum(f.min is not None or f.max is not None for f in self.inputs.fields)
        return (
            f"Wrote {self.folder}:\n{listed}\n"
            f"{len(self.inputs.fields)} fields (names from {self.inputs.names_source}), "
            f"{bounded} with a range; samples.csv holds {self.samples}: replace them with "
            "real records.\n"
            f"Next: staticml serve --watch {self.folder}"
        )


def new_app(folder: Path, model: Path | None = None) -> NewApp:
    """Write a new app into `folder` (which must not exist, or be empty) from `model`, an
    ONNX file or a pickled scikit-learn estimator; without one, the iris example."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} already exists and is not an empty folder: staticml new writes a fresh "
            "app; give it a new folder."
        )
    name = app_name(folder.resolve().name)
    package = f"{name.replace('-', '_')}_app"
    inputs = model_inputs(model) if model is not None else None
    folder.mkdir(parents=True, exist_ok=True)
    if model is None:
        model_file = "model.joblib"
        example_model(folder / model_file)
        inputs = model_inputs(folder / model_file)
        samples, described = example_samples(inputs.fields), EXAMPLE_SAMPLES
        title = EXAMPLE_TITLE
    else:
        assert inputs is not None
        model_file = f"model{model.suffix.lower()}"
        shutil.copyfile(model, folder / model_file)
        samples, described = samples_text(inputs.fields), MADE_UP
        title = f"Predictions from {model.name}"
    texts = {"staticml.toml": toml_text(name, title, model_file, package, inputs, described)}
    if not inputs.takes_fields:
        (folder / package).mkdir()
        texts[f"{package}/__init__.py"] = f'"""The preprocessing of {name}."""\n'
        texts[f"{package}/preprocess.py"] = preprocess_text(inputs.fields, model_file)
    texts["samples.csv"] = samples
    texts["README.md"] = readme_text(title, model_file, package, inputs, described)
    for relative, text in texts.items():
        (folder / relative).write_text(text, encoding="utf-8")
    return NewApp(folder.resolve(), (model_file, *texts), inputs, described)


def app_name(folder_name: str) -> str:
    """A valid `app.name` from the folder's name (`My Model` → `my-model`)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", folder_name.lower()).strip("-_")
    name = name if name[:1].isalpha() else f"app-{name}".rstrip("-")
    return name[:64].rstrip("-_")
