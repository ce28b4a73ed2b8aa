"""The files of a new app: staticml.toml, the preprocessing package, samples.csv, a README."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from staticml.scaffold.inputs import DraftField, ModelInputs

SAMPLE_ROWS = 3
MADE_UP = f"{SAMPLE_ROWS} made-up rows the model accepts"


def toml_text(
    name: str, title: str, model_file: str, package: str, inputs: ModelInputs, samples: str
) -> str:
    lines = [
        "# Written by `staticml new`: every setting is explained in staticml's",
        "# docs/configuration.md. Build with `staticml build . --verify`.",
        "",
        "[app]",
        f"name = {_string(name)}",
        f"title = {_string(title)}",
        "",
        "[model]",
        f"file = {_string(model_file)}",
        "",
    ]
    if inputs.classes:
        lines += [
            "[output]",
            "# The model's classes (classes_), in its order; rename them as the page should",
            "# show them.",
            f"classes = [{', '.join(_string(c) for c in inputs.classes)}]",
            "",
        ]
    if not inputs.takes_fields:
        lines += [
            "[preprocess]",
            f'entry = "{package}.preprocess:features"',
            f'batch = "{package}.preprocess:features_batch"',
            "",
        ]
    lines += [
        "[samples]",
        f"# {samples}: replace them with real records.",
        'file = "samples.csv"',
        "",
        f"# One field per model input, in the model's order. Names: {inputs.names_source}.",
        *(
            ["# The pipeline takes these fields as they are: no [preprocess] is needed."]
            if inputs.takes_fields
            else []
        ),
        f"# min/max: {inputs.bounds_source}.",
    ]
    if not all(f.min is not None and f.max is not None for f in inputs.fields):
        lines.append("# Where min or max is missing, no range is checked: add the valid range.")
    for field in inputs.fields:
        lines += ["", *_field_lines(field)]
    return "\n".join(lines) + "\n"


def _field_lines(field: DraftField) -> list[str]:
    lines = ["[[input]]", f"name = {_string(field.name)}", f"type = {_string(field.type)}"]
    if field.label != field.name:
        lines.append(f"label = {_string(field.label)}")
    if field.choices is not None:
        lines.append(f"choices = [{', '.join(_string(c) for c in field.choices)}]")
    if field.min is not None:
        lines.append(f"min = {_number(field.min)}")
    if field.max is not None:
        lines.append(f"max = {_number(field.max)}")
    if not field.required:
        lines.append("required = false")
    return lines


def preprocess_text(fields: Sequence[DraftField], model_label: str) -> str:
    names = "\n".join(f"    {_string(f.name)}," for f in fields)
    return f'''"""Preprocessing: a record (the form, a CSV row) → the feature vector {model_label} takes.

It runs in the visitor's browser (Pyodide) and in CPython alike: standard library only, or
pure-Python packages listed in preprocess.dependencies. Change it freely: it is yours.
"""

from __future__ import annotations

from typing import Any

# The record's fields, in the order of the model's features.
FEATURES = (
{names}
)


def features(record: dict[str, Any]) -> list[float]:
    return [float(record[name]) for name in FEATURES]


def features_batch(records: list[dict[str, Any]]) -> list[list[float]]:
    return [features(record) for record in records]
'''


def samples_text(fields: Sequence[DraftField], rows: int = SAMPLE_ROWS) -> str:
    columns = [field.sample_values(rows) for field in fields]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields])
    for row in range(rows):
        writer.writerow([column[row] for column in columns])
    return out.getvalue()


def readme_text(
    title: str, model_file: str, package: str, inputs: ModelInputs, samples: str = MADE_UP
) -> str:
    bounded = sum(f.min is not None or f.max is not None for f in inputs.fields)
    classes = ", and name the classes" if inputs.classes else ""
    return f"""# {title}

A staticml app: the model `{model_file}` and its preprocessing, built into a static site
that predicts in the visitor's browser.

    staticml build . --verify     # build into ./dist and check it in headless Chromium
    staticml serve --watch .      # the authoring loop: rebuilds and reloads on every save

What `staticml new` wrote, and what to check:

- `staticml.toml`: {len(inputs.fields)} fields, {bounded} of them with a range.
  - Names: {inputs.names_source}.
  - Ranges: {inputs.bounds_source}.

  Give the fields readable labels and set the ranges the model should accept{classes}.
{_preprocessing_note(package, inputs)}
- `samples.csv`: {samples}, shown on the page with the prediction CPython made at
  build time. **Replace them with real records** of your own.
"""


def _preprocessing_note(package: str, inputs: ModelInputs) -> str:
    if inputs.takes_fields:
        return (
            "- No preprocessing module: the pipeline's ColumnTransformer encodes the record's\n"
            "  fields itself, in the browser as in CPython (one model input per field)."
        )
    return (
        f"- `{package}/preprocess.py`: turns a record into the model's feature vector, in the\n"
        "  browser as in CPython. Put the preprocessing your model was trained with here."
    )


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _number(value: Any) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))
