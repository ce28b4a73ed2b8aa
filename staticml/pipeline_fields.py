"""A scikit-learn pipeline as it is: the columns its `ColumnTransformer` takes, read from the fit.

A `Pipeline` whose first step is a `ColumnTransformer` encodes the raw record itself: numbers
(imputed, scaled) and string categories (imputed, one-hot or ordinal encoded). Such a pipeline
needs no preprocessing of the app's: converted with one ONNX input per column
(`column_inputs`, used by `staticml.stages.model`), it is fed the record's fields. The same
reading gives the `[[input]]` declarations (`fields_from_pipeline`, for `staticml new`): each
column's name, whether it is a number or a category, and the categories the encoder was
fitted on.

A column is a string input when the encoder it goes to was fitted on text (its `categories_`
are strings); every other column (scaled, imputed, passed through, or encoded from numbers) is
a float input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from staticml.errors import BuildError
from staticml.runtime.columns import FLOAT, STRING, ModelInput

_ENCODERS = ("OneHotEncoder", "OrdinalEncoder")


@dataclass(frozen=True)
class Column:
    """One column the pipeline takes: its name, input type, categories and whether a
    `SimpleImputer` fills it when missing."""

    name: str
    type: str
    categories: tuple[str, ...] | None
    imputed: bool

    def declaration(self) -> dict[str, Any]:
        """The column's `[[input]]` table, as in staticml.toml."""
        table: dict[str, Any] = {"name": self.name}
        if self.categories is not None:
            table |= {"type": "category", "choices": list(self.categories)}
        else:
            table["type"] = "number"
        if self.imputed:
            table["required"] = False
        return table


def column_transformer(estimator: Any) -> Any | None:
    """The `ColumnTransformer` a pipeline starts with, or None."""
    from sklearn.compose import ColumnTransformer

    steps = getattr(estimator, "steps", None)
    first = steps[0][1] if steps else None
    return first if isinstance(first, ColumnTransformer) else None


def pipeline_columns(estimator: Any, names: Sequence[str] | None = None) -> tuple[Column, ...]:
    """Every column the pipeline's `ColumnTransformer` takes, in the order of its input.

    Names come from the fit (`feature_names_in_`, a pipeline fitted on a DataFrame); a pipeline
    fitted on an array is given them in `names`, else they are `x0`, `x1`, ...
    """
    transformer = column_transformer(estimator)
    if transformer is None:
        raise BuildError(
            f"{type(estimator).__name__} is not a scikit-learn Pipeline starting with a "
            "ColumnTransformer, so it cannot take the record's fields directly; set "
            "preprocess.entry to a function turning a record into the model's features."
        )
    width = int(transformer.n_features_in_)
    shown = _names(transformer, width, names)
    found: dict[int, Column] = {}
    for _, step, selected in transformer.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        parts = [] if isinstance(step, str) else list(getattr(step, "steps", [(None, step)]))
        encoder = next((s for _, s in parts if type(s).__name__ in _ENCODERS), None)
        imputed = any(type(s).__name__ == "SimpleImputer" for _, s in parts)
        for position, index in enumerate(_indexes(selected, shown)):
            categories = _categories(encoder, position)
            text = categories is not None and all(isinstance(c, str) for c in categories)
            found[index] = Column(
                shown[index],
                STRING if text else FLOAT,
                tuple(str(c) for c in categories) if categories is not None else None,
                imputed,
            )
    return tuple(
        found.get(i, Column(shown[i], FLOAT, None, False)) for i in range(width)
    )  # a dropped column is still an input of the fitted pipeline


def column_inputs(estimator: Any, names: Sequence[str] | None = None) -> tuple[ModelInput, ...]:
    """The ONNX inputs of the converted pipeline: one per column, float or string."""
    return tuple(ModelInput(c.name, c.type) for c in pipeline_columns(estimator, names))


def fields_from_pipeline(
    estimator: Any, names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The `[[input]]` tables for a fitted pipeline: `{"name", "type"}` for a number,
    `{"name", "type": "category", "choices"}` for an encoded column (its fitted categories),
    with `"required": False` when a `SimpleImputer` fills the column in."""
    return [column.declaration() for column in pipeline_columns(estimator, names)]


def _names(transformer: Any, width: int, names: Sequence[str] | None) -> list[str]:
    fitted = getattr(transformer, "feature_names_in_", None)
    if fitted is not None:
        return [str(n) for n in fitted]
    if names is None:
        return [f"x{i}" for i in range(width)]
    if len(names) != width:
        raise BuildError(
            f"the pipeline's ColumnTransformer takes {width} columns, but {len(names)} names "
            f"were given for them ({', '.join(names)}): declare one [[input]] field per column, "
            "in the order of the columns the pipeline was fitted on."
        )
    return list(names)


def _indexes(selected: Any, names: list[str]) -> list[int]:
    """The column positions a transformer takes (its columns as fitted: indexes, names, a
    slice or a boolean mask)."""
    if isinstance(selected, slice):
        return list(range(len(names)))[selected]
    items = [selected] if isinstance(selected, (int, str)) else list(selected)
    if items and all(isinstance(i, bool) or type(i).__name__ == "bool_" for i in items):
        return [i for i, keep in enumerate(items) if keep]
    indexes = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise BuildError(
                    f"the ColumnTransformer selects a column {item!r} it was not fitted on"
                )
            indexes.append(names.index(item))
        else:
            indexes.append(int(item))
    return indexes


def _categories(encoder: Any, position: int) -> list[Any] | None:
    fitted = getattr(encoder, "categories_", None)
    if fitted is None or position >= len(fitted):
        return None
    return [c for c in fitted[position].tolist() if c is not None and c == c]  # not NaN
