from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import textwrap

import numpy as np
import onnxruntime
import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.model import load_model
from staticml.stages.reference import reference_predictions
from staticml.stages.wheels import pack_wheels
from tests.support import APP_DIR, ROOT

WINE = ROOT / "examples" / "wine"


@pytest.fixture(scope="module")
def demo(demo_model):
    config = load_config(APP_DIR)
    return config, demo_model, pack_wheels(config)


def test_reference_predictions_come_from_the_shipped_wheel_and_model(demo):
    config, model, wheels = demo
    samples = reference_predictions(config, model, wheels)
    assert len(samples.samples) == 20
    assert not any(name.startswith(("digits", "train")) for name in sys.modules), (
        "app modules leaked"
    )
    sys.path.insert(0, str(APP_DIR))
    try:
        from digits.preprocess import features
    finally:
        sys.path.remove(str(APP_DIR))
    session = onnxruntime.InferenceSession(model.onnx)
    for sample in samples.samples:
        vector = np.asarray([features(sample.record)], dtype=np.float32)
        label, probabilities = session.run(None, {"input": vector})
        assert sample.expected.label == str(label[0])
        assert list(sample.expected.probabilities.values()) == [float(p) for p in probabilities[0]]
        assert sum(sample.expected.probabilities.values()) == pytest.approx(1, abs=1e-5)


def test_the_held_out_samples_are_mostly_right(demo):
    samples = reference_predictions(*demo)
    right = sum(s.name.split()[1] == s.expected.label for s in samples.samples)
    assert right >= 18


def test_samples_serialise_to_json(demo):
    data = json.loads(reference_predictions(*demo).to_json())
    assert set(data["samples"][0]) == {"name", "record", "expected"}


def test_a_bad_sample_is_named(demo, tmp_path):
    config, model, wheels = demo
    (tmp_path / "samples_mod.py").write_text(
        textwrap.dedent(
            """
            def samples():
                return [{"name": "broken one", "record": {"image": {"width": 2, "height": 2, "pixels": [1]}}}]
            """
        )
    )
    from staticml.config import EntryPoint

    odd = type(config)(
        **{
            **config.__dict__,
            "app_dir": tmp_path,
            "samples": dataclasses.replace(
                config.samples, source=EntryPoint("samples_mod", "samples")
            ),
        }
    )
    with pytest.raises(
        BuildError,
        match=r"samples.source = 'samples_mod:samples' has 1 bad row\(s\) of 1:\n"
        r"  item 1 \('broken one'\): image.pixels: expected 4 values",
    ):
        reference_predictions(odd, model, wheels)


def test_preprocessing_that_does_not_fit_the_model_is_reported_once(tmp_path):
    app = tmp_path / "wine"
    shutil.copytree(WINE, app)
    source = app / "wine_app" / "preprocess.py"
    source.write_text(source.read_text().replace('    "proline",\n', ""))
    config = load_config(app)
    entry = line_of(config.source.read_text(), 'entry = "wine_app.preprocess:features"')
    with pytest.raises(BuildError) as raised:
        reference_predictions(config, load_model(config), pack_wheels(config))
    assert str(raised.value) == (
        f"preprocess.entry = 'wine_app.preprocess:features' (staticml.toml:{entry}) returns 12 "
        "features per record, but the model expects 13 (seen first on samples.csv:2). Make the "
        "preprocessing return 13 features, or give a model that takes 12."
    )


@pytest.fixture(scope="module")
def wine():
    config = load_config(WINE)
    return config, load_model(config), pack_wheels(config)


def test_every_bad_sample_is_listed_with_its_file_line_and_field(wine, tmp_path):
    config, model, wheels = wine
    header, *rows = (WINE / "reference.csv").read_text().splitlines()[:17]
    magnesium = header.split(",").index("magnesium")
    lines, bad = [header], []
    for number, row in enumerate(rows):
        values = row.split(",")
        if number == 1:
            lines.append("")  # a blank line: skipped, but counted
            values[0] = f'"{values[0]}\n"'  # a valid value over two lines
        elif 2 <= number <= 13:
            values[magnesium] += ".5"
            bad.append(
                (
                    physical(lines) + 1,
                    f"magnesium: expected a whole number, got '{values[magnesium]}'",
                )
            )
        elif number == 14:
            values[0] = "strong"
            bad.append((physical(lines) + 1, "alcohol: expected a number, got 'strong'"))
        lines.append(",".join(values))
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    odd = dataclasses.replace(config, samples=dataclasses.replace(config.samples, file=path))
    with pytest.raises(BuildError) as raised:
        reference_predictions(odd, model, wheels)
    toml = config.source.read_text()
    integer = line_of(toml, 'type = "integer"', after='name = "magnesium"')
    number = line_of(toml, 'type = "number"', after='name = "alcohol"')
    assert str(raised.value).splitlines() == [
        f"samples.file {path} has 13 bad row(s) of 16:",
        *(f"  many.csv:{line}: {problem}" for line, problem in bad[:10]),
        "  ... and 3 more bad rows",
        "If those values are right, a declaration in staticml.toml may be wrong:",
        f"  input 'magnesium' (input[4]) is declared type = \"integer\" at staticml.toml:{integer}; "
        'if its values can have fractions, declare type = "number"',
        f"  input 'alcohol' (input[0]) is declared type = \"number\" at staticml.toml:{number}; "
        'if its values are words, declare type = "category" with their choices',
        "Fix the rows (or the declarations) and build again.",
    ]


def physical(lines: list[str]) -> int:
    """How many lines of the file `lines` make (a value may hold a line break)."""
    return sum(line.count("\n") + 1 for line in lines)


def line_of(text: str, wanted: str, after: str | None = None) -> int:
    """The 1-based line of `wanted` in `text` (the first one after the line `after`)."""
    lines = text.splitlines()
    return lines.index(wanted, lines.index(after) if after else 0) + 1
