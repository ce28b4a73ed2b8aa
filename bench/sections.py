"""bench/results.md holds one section per benchmark, each between markers of its own, so
each benchmark rewrites its section and keeps the others."""

from __future__ import annotations

import re
from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def section(text: str, name: str) -> str | None:
    start, end = markers(name)
    found = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), text, re.S)
    return found.group(1) if found else None


def write_section(path: Path, name: str, body: str) -> None:
    """Replace section `name` of `path` with `body` (appended when it is not there yet)."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if section(text, name) is not None:
        pattern = re.escape(start) + r"\n.*?\n" + re.escape(end)
        text = re.sub(pattern, lambda _: block, text, count=1, flags=re.S)
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    path.write_text(text)


def replace_heading(path: Path, heading: str, text: str) -> None:
    """Replace the section that starts with the line `heading` and runs to the next `# `
    heading (the older benchmarks' convention) with `text`, or append it."""
    old = path.read_text() if path.exists() else ""
    start = old.find(heading + "\n")
    if start < 0:
        path.write_text(old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")
        return
    end = old.find("\n# ", start + len(heading))
    rest = old[end + 1 :] if end >= 0 else ""
    path.write_text(old[:start] + text.rstrip("\n") + "\n" + ("\n" + rest if rest else ""))
