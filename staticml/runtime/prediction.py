"""From the model's outputs to a prediction: the one module that knows the kinds of output.

A classifier returns a class value and a probability per class for each row; a regressor one
number. Every path that turns those outputs into what is shown or written goes through
`OutputSpec`: the page's single prediction and its CSV batch (the worker hands Python the
output tensors), and in CPython the build's reference predictions, its monitoring baseline and
variant measurement, `staticml batch` and retrain evaluation. It uses the standard library
only, so the runtime wheel ships it to the browser and CPython runs the same code. A new kind
of output is an edit here.

Outputs cross as flat sequences, as the model returns them: `labels` one class value per row
(None for a regressor) and `values` the probabilities row by row (a classifier) or one number
per row (a regressor). numpy arrays, JavaScript typed arrays and lists all fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from staticml.runtime.columns import ModelInput
from staticml.runtime.jsonable import JsonRecord

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(frozen=True)
class Prediction:
    label: str | None = None
    probabilities: dict[str, float] | None = None
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        if self.value is not None:
            return {"value": self.value}
        return {"label": self.label, "probabilities": self.probabilities}


def class_text(value: Any) -> str:
    """A class value as text: bytes decoded, a whole float without its `.0` (a model may return
    the class 1 as 1, 1.0 or b"1"; all are "1")."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class OutputSpec(JsonRecord):
    """The model's outputs: their names in the graph and, for a classifier, its classes (the
    values the model returns, as text, and the labels shown for them).

    Its input: `input`, one float tensor of `n_features` per row; or, for a model that takes
    the record's fields directly, `inputs`, one tensor per field (`input` is then empty and
    `n_features` their count).
    """

    kind: str
    input: str
    n_features: int
    label: str | None = None
    probabilities: str | None = None
    value: str | None = None
    class_values: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    inputs: tuple[ModelInput, ...] = ()

    @property
    def classifies(self) -> bool:
        return self.kind == CLASSIFICATION

    @property
    def width(self) -> int:
        """Values per row: one probability per class, or the one number."""
        return len(self.class_values) if self.classifies else 1

    def fetches(self) -> list[str]:
        """The outputs to ask the model for, in the order `predictions` takes them."""
        names = [self.label, self.probabilities] if self.classifies else [self.value]
        if None in names:
            raise ValueError(f"a {self.kind} model needs the outputs {names}")
        return [name for name in names if name is not None]

    def shown(self, value: Any) -> str:
        """The label shown for a class value the model returned: its `classes` entry."""
        text = class_text(value)
        if text in self.class_values:
            return self.classes[self.class_values.index(text)]
        return text

    def labels(self, values: Sequence[Any]) -> list[str]:
        """The shown label of each class value, each distinct value mapped once."""
        mapped: dict[Any, str] = {}
        return [mapped[v] if v in mapped else mapped.setdefault(v, self.shown(v)) for v in values]

    def class_value(self, label: Any) -> str | None:
        """The class value a label names, given as a class value or as its shown label."""
        text = class_text(label)
        if text in self.class_values:
            return text
        if text in self.classes:
            return self.class_values[self.classes.index(text)]
        return None

    def split(self, fetched: Sequence[Any]) -> tuple[list[Any] | None, list[Any]]:
        """(labels, values) from what the model returned for `fetches()`, flattened."""
        flat = [_flat(output) for output in fetched]
        return (flat[0], flat[1]) if self.classifies else (None, flat[0])

    def predictions(
        self, labels: Sequence[Any] | None, values: Sequence[float]
    ) -> list[Prediction]:
        """One prediction per row, from the outputs as the model returned them."""
        if not self.classifies:
            return [Prediction(value=float(v)) for v in values]
        assert labels is not None, "a classifier's outputs include its labels"
        width, shown = self.width, self.labels(list(labels))
        return [
            Prediction(
                label=label,
                probabilities={
                    name: float(p)
                    for name, p in zip(
                        self.classes, values[i * width : (i + 1) * width], strict=True
                    )
                },
            )
            for i, label in enumerate(shown)
        ]


def _flat(output: Any) -> list[Any]:
    """An output as a flat list of Python values: a numpy array of any shape, a memoryview (a
    typed array from JavaScript) or a list."""
    if hasattr(output, "reshape"):
        output = output.reshape(-1)
    return output.tolist() if hasattr(output, "tolist") else list(output)
