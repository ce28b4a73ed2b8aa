"""The browser runtime's Python, run in CPython through the same interface as in Pyodide."""

from __future__ import annotations

import json
import math
from array import array

import pytest

from staticml.runtime import worker
from staticml.runtime.contract import PredictSpec
from staticml.runtime.engine import Predictor, PreprocessError
from staticml.runtime.schema import RecordError, validate

FIELDS = [{"name": "image", "type": "image", "label": "Digit"}]
SPEC = {"entry": "digits.preprocess:features", "nFeatures": 64, "fields": FIELDS}


def image(width=3, height=2, pixels=None):
    return {
        "width": width,
        "height": height,
        "pixels": [0, 255, 0, 0, 255, 0] if pixels is None else pixels,
    }


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ("not a record", "", "a record must be an object with fields 'image', got str"),
        ({}, "image", "missing required field (Digit)"),
        ({"image": None}, "image", "missing required field"),
        ({"image": image(), "extra": 1}, "extra", "unknown field; this app's fields are 'image'"),
        ({"image": [1, 2]}, "image", "expected an image {width, height, pixels}, got list"),
        ({"image": {"width": 1, "height": 1}}, "image.pixels", "missing"),
        (
            {"image": image(width=1.5)},
            "image.width",
            "expected a whole number from 1 to 4096, got 1.5",
        ),
        ({"image": image(height=True)}, "image.height", "got True"),
        ({"image": image(width=5000)}, "image.width", "got 5000"),
        (
            {"image": image(pixels="abcdef")},
            "image.pixels",
            "expected a list of 6 numbers, got str",
        ),
        ({"image": image(pixels=[0] * 5)}, "image.pixels", "expected 6 values (3 × 2), got 5"),
        (
            {"image": image(pixels=[0, 0, 0, 0, 0, 256])},
            "image.pixels[5]",
            "from 0 to 255, got 256",
        ),
        ({"image": image(pixels=[0, 0, -1, 0, 0, 0])}, "image.pixels[2]", "got -1"),
        ({"image": image(pixels=[0, 0, "x", 0, 0, 0])}, "image.pixels[2]", "got 'x'"),
        ({"image": image(pixels=[0, None, 0, 0, 0, 0])}, "image.pixels[1]", "got None"),
        ({"image": image(pixels=[0, math.nan, 0, 0, 0, 0])}, "image.pixels[1]", "got nan"),
        (  # a Float32Array, as Pyodide hands it over
            {"image": image(pixels=memoryview(array("f", [0, 0, 300, 0, 0, 0])))},
            "image.pixels[2]",
            "got 300.0",
        ),
    ],
)
def test_invalid_records_name_the_field(record, field, message):
    with pytest.raises(RecordError) as raised:
        validate(record, FIELDS)
    assert raised.value.field == field
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{field}: " if field else message)


def test_valid_records_pass_including_bytes():
    assert validate({"image": image()}, FIELDS)["image"]["width"] == 3
    validate({"image": image(pixels=bytes(6))}, FIELDS)
    validate({"image": image(pixels=memoryview(bytearray(6)))}, FIELDS)
    validate({"image": image(pixels=memoryview(array("f", [0.5, 255, 0, 0, 0, 0])))}, FIELDS)
    validate({"image": image(pixels=[0.5] * 6)}, FIELDS)


def test_predictor_returns_float32_features():
    predictor = Predictor(PredictSpec.from_json(SPEC))
    vector = predictor.features(
        {"image": image(20, 20, [255 if 8 <= i % 20 < 12 else 0 for i in range(400)])}
    )
    assert isinstance(vector, array) and vector.typecode == "f" and len(vector) == 64


def test_preprocessing_errors_are_wrapped_with_the_entry_point():
    with pytest.raises(
        PreprocessError,
        match=r"preprocessing \(digits.preprocess:features\) rejected the record: the image is blank",
    ):
        Predictor(PredictSpec.from_json(SPEC)).features({"image": image(pixels=[0] * 6)})


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ([1.0] * 3, "returned 3 features; the model expects 64"),
        ([math.nan] * 64, "NaN or infinite"),
        (None, "must return a sequence of numbers, got NoneType"),
    ],
)
def test_unusable_feature_vectors_are_refused(monkeypatch, returned, message):
    predictor = Predictor(PredictSpec.from_json(SPEC))
    monkeypatch.setattr(predictor, "_function", lambda record: returned)
    with pytest.raises(PreprocessError, match=message):
        predictor.features({"image": image()})


def test_worker_prepare_returns_errors_as_data():
    worker.start(json.dumps(SPEC))
    bad = worker.prepare({"image": image(pixels=[0] * 5)})
    assert bad == {
        "error": {
            "field": "image.pixels",
            "message": "image.pixels: expected 6 values (3 × 2), got 5",
            "kind": "record",
            "problems": [
                {
                    "field": "image.pixels",
                    "message": "image.pixels: expected 6 values (3 × 2), got 5",
                }
            ],
        }
    }
    both = worker.prepare({"image": image(), "extra": 1, "other": 2})["error"]
    assert both["field"] == "extra"
    assert [problem["field"] for problem in both["problems"]] == ["extra", "other"]
    assert both["message"] == "; ".join(problem["message"] for problem in both["problems"])
    blank = worker.prepare({"image": image(pixels=[0] * 6)})
    assert blank["error"]["kind"] == "preprocess" and "blank" in blank["error"]["message"]
    good = worker.prepare({"image": image(4, 4, [255] * 16)})
    assert len(good["features"]) == 64 and good["ms"] >= 0


def test_worker_start_renews_what_a_snapshot_froze():
    import random
    import tempfile

    random.seed(7)
    frozen = random.random()
    tempfile._get_candidate_names()
    random.seed(7)
    worker.start(json.dumps(SPEC))
    assert random.random() != frozen
    assert tempfile._name_sequence is None


def test_runtime_imports_only_the_standard_library():
    import staticml.runtime
    from staticml.packaging import package_sources
    from staticml.stages.purity import foreign_imports, pyodide_stdlib

    sources = package_sources(__import__("pathlib").Path(staticml.runtime.__file__).parent)
    allowed = pyodide_stdlib() | {"staticml", "js", "pyodide"}
    assert [i for s in sources if s.suffix == ".py" for i in foreign_imports(s, allowed)] == []
