"""`[[input]]`: the fields of a record, each of its settings declared once (see `.declare`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staticml.settings.declare import REQUIRED, Setting, declared, setting
from staticml.settings.parsers import (
    FIELD_TYPES,
    anything,
    boolean,
    choice_list,
    finite,
    identifier,
    int_range,
    one_of,
    string,
)


@dataclass(frozen=True)
class Field:
    """One input field: its type, its constraints and how the page labels it."""

    name: str = setting(
        identifier, REQUIRED, "Key of the field in a record, and its CSV column name."
    )
    type: str = setting(
        one_of(FIELD_TYPES), REQUIRED, f"One of {', '.join(f'`{t}`' for t in FIELD_TYPES)}."
    )
    label: str = setting(string, None, "Label shown in the page.", unset="the name")
    description: str = setting(string, "", "Help text shown with the field.")
    required: bool = setting(
        boolean,
        True,
        "Whether a record must have a value. A field with a `default` is never required; an "
        "optional field without one reaches the preprocessing as `None`.",
    )
    default: Any = setting(
        anything, None, "Value used when a record has none; it must itself be valid."
    )
    min: float | None = setting(finite, None, "Numbers and integers: the smallest allowed value.")
    max: float | None = setting(finite, None, "Numbers and integers: the largest allowed value.")
    choices: tuple[str, ...] | None = setting(
        choice_list, None, "Categories: the allowed values (required for categories)."
    )
    max_length: int = setting(
        int_range(1), 10_000, "Text: the longest allowed value, in characters."
    )
    canvas_size: int = setting(
        int_range(32, 1024), 280, "Images: side of the drawing canvas in CSS pixels."
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "required", self.required and self.default is None)

    def spec(self) -> dict[str, Any]:
        """The field as the browser runtime's validator and the page's form see it."""
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "required": self.required,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
            "maxLength": self.max_length,
            "canvasSize": self.canvas_size,
        }


FIELD_SETTINGS: tuple[Setting, ...] = declared(Field)
"""The settings of one `[[input]]` table, keyed by their name in it (`min`, not `input.min`)."""
