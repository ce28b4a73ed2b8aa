"""Where a key is written in a staticml.toml: the line a problem with it is reported at."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def line_of(text: str, key: str) -> int | None:
    """Best-effort line number of a dotted key such as `model.train` or `input[1].type`."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    *tables, leaf = parts
    header, index = _header_for(tables)
    lines = text.splitlines()
    start = 0
    if header:
        seen = -1
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
        for number, line in enumerate(lines):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    start = number + 1
                    break
        else:
            return _table_line(lines, leaf)
    key_pattern = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("[") and header:
            break
        if key_pattern.match(lines[number]):
            return number + 1
    return start if header else _table_line(lines, leaf)


def _table_line(lines: list[str], name: str) -> int | None:
    pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?")
    return next((n + 1 for n, line in enumerate(lines) if pattern.match(line)), None)


def _header_for(tables: list[str]) -> tuple[str, int]:
    names = [t for t in tables if not t.startswith("[")]
    indexes = [int(t[1:-1]) for t in tables if t.startswith("[")]
    return ".".join(names), (indexes[-1] if indexes else 0)


def shown_key(key: str, fields: Sequence[Any], table: str = "input") -> str:
    """`input[6].choices` as `input 'imaging_site' (input[6]).choices`, naming the field.

    `fields` are the `[[input]]` tables as written; a key of one without a name stays as is.
    """
    found = re.match(rf"{re.escape(table)}\[(\d+)\]", key)
    if found is None:
        return key
    index = int(found.group(1))
    field = fields[index] if index < len(fields) else None
    name = field.get("name") if isinstance(field, dict) else None
    if not isinstance(name, str) or not name:
        return key
    return f"{table} {name!r} ({found.group(0)}){key[found.end() :]}"
