from __future__ import annotations

import dataclasses
import json
import sys
import textwrap

import numpy as np
import onnxruntime
import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.reference import reference_predictions
from staticml.stages.wheels import pack_wheels
from tests.support import APP_DIR


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
        match=r"sample 'broken one' is not a valid record: image.pixels: expected 4 values",
    ):
        reference_predictions(odd, model, wheels)


def test_preprocessing_that_does_not_fit_the_model_fails_the_build(tmp_path):
    import shutil

    from tests.support import ROOT

    app = tmp_path / "wine"
    shutil.copytree(ROOT / "examples" / "wine", app)
    source = app / "wine_app" / "preprocess.py"
    source.write_text(source.read_text().replace('    "proline",\n', ""))
    config = load_config(app)
    from staticml.stages.model import load_model

    model = load_model(config)
    with pytest.raises(
        BuildError,
        match=r"sample 'row 1' is not a valid record: preprocessing \(wine_app.preprocess:features\) returned 12 features; the model expects 13",
    ):
        reference_predictions(config, model, pack_wheels(config))
