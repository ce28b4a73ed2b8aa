"""Validate one record against the app's input fields before preprocessing sees it.

A field spec is the dict `Field.spec()` writes at build time: name, type, label, required,
default, min, max, choices, maxLength. Values coming from a form or a CSV file arrive as
strings, so numbers and integers also accept their text form ("3.5"); everything else must
already have the right type. The validated record holds the converted values, with defaults
filled in, and only the declared fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_IMAGE_SIDE = 4096


class RecordError(ValueError):
    """A record does not follow the input schema; `field` names where (e.g. `image.pixels`).

    `setting` names the field's declaration the `value` fails against when that declaration may
    be what is wrong (`type` for '24.49' in an integer field, `choices`, `min`, ...), so the
    build can point at the line of staticml.toml that declares it.
    """

    def __init__(
        self, field: str, message: str, setting: str | None = None, value: Any = None
    ) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.setting = setting
        self.value = value


class RecordErrors(RecordError):
    """Every problem of one record, in the fields' order, so a form can mark all bad fields.

    As a RecordError it is the first problem (its `field` and `message`); its text names them
    all, and is the first one's text when there is only one.
    """

    def __init__(self, problems: Sequence[RecordError]) -> None:
        if not problems:
            raise ValueError("RecordErrors needs at least one problem")
        first = problems[0]
        super().__init__(first.field, first.message, first.setting, first.value)
        self.problems = tuple(problems)
        self.args = ("; ".join(str(problem) for problem in self.problems),)


def validate(record: Any, fields: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The record with converted values and defaults; RecordErrors names every bad field."""
    if not isinstance(record, Mapping):
        expected = f"a record must be an object with fields {_names(fields)}, got {_kind(record)}"
        raise RecordErrors([RecordError("", expected)])
    names = [f["name"] for f in fields]
    problems = [
        RecordError(str(key), f"unknown field; this app's fields are {_names(fields)}")
        for key in record
        if key not in names
    ]
    checked: dict[str, Any] = {}
    for field in fields:
        name = field["name"]
        value = record.get(name)
        try:
            checked[name] = (
                _missing(field) if is_missing(value) else check_value(name, field, value)
            )
        except RecordError as problem:
            problems.append(problem)
    if problems:
        raise RecordErrors(problems)
    return checked


def is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _missing(field: Mapping[str, Any]) -> Any:
    if field.get("default") is not None:
        return field["default"]
    if field.get("required", True):
        label = field.get("label") or field["name"]
        raise RecordError(field["name"], f"missing required field ({label})", "required")
    return None


def check_value(name: str, field: Mapping[str, Any], value: Any) -> Any:
    """One present value of a field, converted (e.g. "3.5" → 3.5) or RecordError."""
    return _CHECKERS[field["type"]](name, field, value)


def _number(name: str, field: Mapping[str, Any], value: Any) -> float:
    parsed = _as_number(name, value, "a number")
    _check_bounds(name, field, parsed, "a number")
    return float(parsed)


def _integer(name: str, field: Mapping[str, Any], value: Any) -> int:
    parsed = _as_number(name, value, "a whole number")
    if parsed != int(parsed):
        raise RecordError(name, f"expected a whole number, got {value!r}", "type", value)
    _check_bounds(name, field, parsed, "a whole number")
    return int(parsed)


def _as_number(name: str, value: Any, what: str) -> float:
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            raise RecordError(name, f"expected {what}, got {value!r}", "type", value) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = float(value)
    else:
        raise RecordError(name, f"expected {what}, got {_kind(value)} {value!r}")
    if not math.isfinite(parsed):
        raise RecordError(name, f"expected a finite number, got {value!r}")
    return parsed


def _check_bounds(name: str, field: Mapping[str, Any], value: float, what: str) -> None:
    low, high = field.get("min"), field.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = "min" if low is not None and value < low else "max"
        raise RecordError(
            name, f"expected {what} {_range(low, high)}, got {_shown(value)}", bound, value
        )


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"from {_shown(low)} to {_shown(high)}"
    return f"of at least {_shown(low)}" if low is not None else f"of at most {_shown(high)}"


def _shown(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else repr(number)


def _category(name: str, field: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = _shown(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise RecordError(name, f"expected one of {_choices(field)}, got {_kind(value)}")
    if text not in field["choices"]:
        raise RecordError(
            name, f"expected one of {_choices(field)}, got {value!r}", "choices", value
        )
    return text


def _choices(field: Mapping[str, Any]) -> str:
    choices = list(field["choices"])
    shown = ", ".join(repr(c) for c in choices[:10])
    return shown + (f" (and {len(choices) - 10} more)" if len(choices) > 10 else "")


def _text(name: str, field: Mapping[str, Any], value: Any) -> str:
    if not isinstance(value, str):
        raise RecordError(name, f"expected text, got {_kind(value)}")
    limit = field.get("maxLength")
    if limit is not None and len(value) > limit:
        raise RecordError(
            name, f"expected at most {limit} characters, got {len(value)}", "max_length", value
        )
    return value


def _image(name: str, field: Mapping[str, Any], value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise RecordError(name, f"expected an image {{width, height, pixels}}, got {_kind(value)}")
    for key in ("width", "height", "pixels"):
        if key not in value:
            raise RecordError(f"{name}.{key}", "missing; an image is {width, height, pixels}")
    for key in ("width", "height"):
        side = value[key]
        if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= MAX_IMAGE_SIDE:
            raise RecordError(
                f"{name}.{key}", f"expected a whole number from 1 to {MAX_IMAGE_SIDE}, got {side!r}"
            )
    pixels = value["pixels"]
    expected = value["width"] * value["height"]
    if isinstance(pixels, str) or not isinstance(pixels, Sequence | memoryview):
        raise RecordError(
            f"{name}.pixels", f"expected a list of {expected} numbers, got {_kind(pixels)}"
        )
    if len(pixels) != expected:
        raise RecordError(
            f"{name}.pixels",
            f"expected {expected} values ({value['width']} × {value['height']}), got {len(pixels)}",
        )
    if not _unsigned_bytes(pixels):
        _check_pixel_values(f"{name}.pixels", pixels)
    return value


def _unsigned_bytes(pixels: Any) -> bool:
    """Whether every item is a byte, 0 to 255 by its type (a Uint8Array or
    Uint8ClampedArray arrives in Pyodide as a memoryview of format "B"); a Float32Array's
    memoryview is checked value by value like a list."""
    if isinstance(pixels, memoryview):
        return pixels.format == "B"
    return isinstance(pixels, bytes | bytearray)


def _check_pixel_values(where: str, pixels: Sequence[Any]) -> None:
    try:
        if (
            min(pixels) >= 0
            and max(pixels) <= 255
            and not math.isnan(sum(pixels))  # min and max can step over a NaN
            and all(type(p) in (int, float) for p in pixels)
        ):
            return
    except TypeError:
        pass
    for index, p in enumerate(pixels):
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 255:
            raise RecordError(f"{where}[{index}]", f"expected a number from 0 to 255, got {p!r}")


def _names(fields: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(repr(f["name"]) for f in fields)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


_CHECKERS: dict[str, Callable[[str, Mapping[str, Any], Any], Any]] = {
    "number": _number,
    "integer": _integer,
    "category": _category,
    "text": _text,
    "image": _image,
}
