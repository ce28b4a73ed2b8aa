"""Frozen dataclasses to and from the JSON the build writes: the one place that maps names.

A field `n_features` is the JSON key `nFeatures`; a field may name its key itself
(`field(metadata=key("indexURL"))`), or be flat (`field(metadata=FLAT)`): a record whose own
fields are written beside the enclosing record's, as the
worker configuration's `model` carries the output spec's keys beside `url` and `sha256`.
Reading takes the keys a record declares and ignores others, so a newer writer's extra keys
do not break an older reader; a missing required key is a `KeyError` naming it.

Standard library only: the runtime wheel ships it, and the browser reads the same records.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

_KEY = "staticml.json"
_FLAT = "staticml.flat"
FLAT = {_FLAT: True}

Record = TypeVar("Record", bound="JsonRecord")


def key(name: str) -> dict[str, str]:
    """Field metadata: stored under the JSON key `name` rather than its camelCase name."""
    return {_KEY: name}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class JsonRecord:
    """Mixin for frozen dataclasses: `to_json()` and `from_json(mapping)`."""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _dump(getattr(self, item.name))
            if item.metadata.get(_FLAT):
                document.update(value)
            else:
                document[_json_key(item)] = value
        return document

    @classmethod
    def from_json(cls: type[Record], document: Mapping[str, Any]) -> Record:
        if not isinstance(document, Mapping):
            raise TypeError(f"{cls.__name__} is read from a JSON object, not {document!r}")
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            if item.metadata.get(_FLAT):
                values[item.name] = _load(hints[item.name], document)
                continue
            name = _json_key(item)
            if name in document:
                values[item.name] = _load(hints[item.name], document[name])
            elif _required(item):
                raise KeyError(name)
        return cls(**values)


def _json_key(item: dataclasses.Field[Any]) -> str:
    return str(item.metadata.get(_KEY) or camel(item.name))


def _required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        module = sys.modules[cls.__module__]
        _HINTS[cls] = typing.get_type_hints(cls, vars(module))
    return _HINTS[cls]


def _dump(value: Any) -> Any:
    if isinstance(value, JsonRecord):
        return value.to_json()
    if isinstance(value, (tuple, list)):
        return [_dump(item) for item in value]
    if isinstance(value, Mapping):
        return {name: _dump(item) for name, item in value.items()}
    return value


def _load(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        [inner] = [arg for arg in args if arg is not type(None)]
        return _load(inner, value)
    if isinstance(hint, type) and issubclass(hint, JsonRecord):
        return hint.from_json(value)
    if origin in (tuple, list):
        return origin(_load(args[0], item) for item in value)
    if origin in (dict, Mapping) or (origin is not None and issubclass(origin, Mapping)):
        return {name: _load(args[1], item) for name, item in dict(value).items()}
    if hint is int:
        return int(value)
    if hint is float:
        return float(value)
    return value
