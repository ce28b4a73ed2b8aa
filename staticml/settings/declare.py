"""How a setting is declared: once, as a field of a frozen dataclass, with `setting()`.

    class ModelSettings:                # AppConfig.model, the [model] table
        opset: int = setting(int_range(9, 23), 17, "ONNX opset ...")

declares the key `model.opset`: its table is the section's attribute name in `AppConfig`, its
key the field's name. That one declaration gives the parser (which validates), the default
(written as in TOML and parsed like a given value), the help text (the meaning column of
docs/configuration.md, rendered by `markdown_row` and checked by a test, and the message for a
missing required setting), and typed access: `config.model.opset`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a setting the file must give."""

_METADATA = "staticml.setting"


@dataclasses.dataclass(frozen=True, eq=False)
class Setting:
    """One setting: its key, how a value is parsed and checked, its default and help text.

    `default` is REQUIRED, None (unset: the value is None), or a TOML value, parsed by `parse`
    when the file does not give one. `unset` says in the docs what an unset setting means when
    that is not the default's value (`"the name"`, `"from the model"`).
    """

    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    unset: str | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @functools.cached_property
    def value_when_unset(self) -> Any:
        """The value of the setting when the file does not give it (None when required)."""
        if self.default is None or self.default is REQUIRED:
            return None
        return self.parse(self.default)

    @property
    def documented_default(self) -> str:
        """The default column of docs/configuration.md."""
        if self.required:
            return "required"
        if self.unset is not None:
            return self.unset
        if self.default is None:
            return "—"
        return f"`{toml_literal(self.default)}`"

    def markdown_row(self, prefix: str = "") -> str:
        """The setting's row in a table of docs/configuration.md."""
        return f"| `{prefix}{self.key}` | {self.documented_default} | {self.help} |"


def setting(
    parse: Callable[[Any], Any], default: Any, help: str, *, unset: str | None = None
) -> Any:
    """Declare the dataclass field it is assigned to as a setting (see the module docstring)."""
    return dataclasses.field(metadata={_METADATA: Setting("", parse, default, help, unset)})


def declared(cls: type, prefix: str = "") -> tuple[Setting, ...]:
    """The settings the dataclass `cls` declares, keyed `prefix` + field name, in order."""
    return tuple(
        dataclasses.replace(field.metadata[_METADATA], key=prefix + field.name)
        for field in dataclasses.fields(cls)
        if _METADATA in field.metadata
    )


def toml_literal(value: Any) -> str:
    """`value` written as in a staticml.toml (`true`, `"auto"`, `[0.5, 0.9]`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_literal, value)) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)
