"""staticml.runtime.prediction: model outputs to predictions, the same from every container."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from staticml.runtime.prediction import OutputSpec, Prediction, class_text

IRIS = OutputSpec(
    kind="classification",
    input="input",
    n_features=4,
    label="label",
    probabilities="probabilities",
    class_values=("0", "1", "2"),
    classes=("setosa", "versicolor", "virginica"),
)
PRICE = OutputSpec(kind="regression", input="x", n_features=3, value="variable")

# Two rows as onnxruntime returns them in CPython: int64 labels, float32 probabilities [2, 3].
LABELS = np.array([2, 0], dtype=np.int64)
SCORES = np.array([[0.1, 0.2, 0.7], [0.8, 0.15, 0.05]], dtype=np.float32)


def test_a_classifier_gets_its_shown_labels_and_a_probability_per_class():
    first, second = IRIS.predictions(*IRIS.split([LABELS, SCORES]))
    assert first.label == "virginica" and second.label == "setosa"
    assert first.probabilities == pytest.approx(
        {"setosa": 0.1, "versicolor": 0.2, "virginica": 0.7}
    )
    assert set(second.to_json()) == {"label", "probabilities"}


def test_every_container_of_the_same_outputs_gives_the_same_predictions():
    """numpy arrays (CPython), typed arrays (the page: memoryviews in Pyodide), flat lists."""
    expected = IRIS.predictions(*IRIS.split([LABELS, SCORES]))
    as_typed_arrays = [memoryview(array("q", [2, 0])), memoryview(array("f", SCORES.ravel()))]
    as_text = [["2", "0"], SCORES.ravel().tolist()]
    as_floats = [[2.0, 0.0], SCORES.reshape(-1, 1)]
    as_bytes = [np.array([b"2", b"0"]), SCORES]
    for outputs in (as_typed_arrays, as_text, as_floats, as_bytes):
        assert IRIS.predictions(*IRIS.split(outputs)) == expected


def test_a_regressor_gets_one_value_per_row():
    values = np.array([[1.5], [-2.0]], dtype=np.float32)
    assert PRICE.split([values]) == (None, [1.5, -2.0])
    assert PRICE.predictions(None, [1.5, -2.0]) == [Prediction(value=1.5), Prediction(value=-2.0)]
    assert PRICE.fetches() == ["variable"] and PRICE.width == 1


def test_outputs_are_fetched_in_the_order_predictions_take_them():
    assert IRIS.fetches() == ["label", "probabilities"] and IRIS.width == 3
    with pytest.raises(ValueError, match="needs the outputs"):
        OutputSpec(kind="classification", input="input", n_features=4, label="label").fetches()


def test_class_values_are_text_whatever_the_model_returned():
    assert [class_text(v) for v in (1, 1.0, b"1", "1", np.int64(1).item())] == ["1"] * 5
    assert class_text(1.5) == "1.5"
    assert IRIS.shown(1) == "versicolor" and IRIS.shown("7") == "7"
    assert IRIS.labels([2, 2, 0]) == ["virginica", "virginica", "setosa"]


def test_a_label_names_its_class_by_value_or_by_its_shown_name():
    assert IRIS.class_value("virginica") == "2" == IRIS.class_value(2.0)
    assert IRIS.class_value("daisy") is None


def test_the_spec_round_trips_through_the_worker_configuration():
    assert OutputSpec.from_json(IRIS.to_json()) == IRIS
    assert OutputSpec.from_json(PRICE.to_json()) == PRICE
    assert set(IRIS.to_json()) == {
        "kind",
        "input",
        "nFeatures",
        "label",
        "probabilities",
        "value",
        "classValues",
        "classes",
        "inputs",
    }
