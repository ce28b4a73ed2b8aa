"""Validate one record against the app's input fields before preprocessing sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_IMAGE_SIDE = 4096
_BYTES_LIKE = (bytes, bytearray, memoryview)


class RecordError(ValueError):
    """A record does not follow the input schema; `field` names where (e.g. `image.pixels`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def validate(record: Any, fields: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the record if it follows `fields`; raise RecordError naming the first bad field."""
    if not isinstance(record, Mapping):
        raise RecordError(
            "", f"a record must be an object with fields {_names(fields)}, got {_kind(record)}"
        )
    names = [f["name"] for f in fields]
    unknown = [key for key in record if key not in names]
    if unknown:
        raise RecordError(str(unknown[0]), f"unknown field; this app's fields are {_names(fields)}")
    for field in fields:
        name = field["name"]
        if name not in record or record[name] is None:
            raise RecordError(name, f"missing required field ({field.get('label') or name})")
        _VALIDATORS[field["type"]](name, record[name])
    return dict(record)


def _image(name: str, value: Any) -> None:
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
    if not isinstance(pixels, _BYTES_LIKE):
        _check_pixel_values(f"{name}.pixels", pixels)


def _check_pixel_values(where: str, pixels: Sequence[Any]) -> None:
    try:
        if min(pixels) >= 0 and max(pixels) <= 255 and all(type(p) in (int, float) for p in pixels):
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


_VALIDATORS = {"image": _image}
