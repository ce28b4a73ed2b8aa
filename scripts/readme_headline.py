"""Rewrite the README's compression headline from a built demo: `python scripts/readme_headline.py [SITE]`.

The figures come from the build's `model.json` (default site: `dist`), never typed in; a test
checks that the README says what the current build of the demo reports.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from staticml.runtime.contract import REPORT_JSON
from staticml.stages.report import headline

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = (
    "<!-- model-headline: written by scripts/readme_headline.py -->",
    "<!-- /model-headline -->",
)
SECTION = re.compile(re.escape(START) + r"\n(.*?)\n" + re.escape(END), re.S)


def section(readme: str) -> str:
    found = SECTION.search(readme)
    if found is None:
        raise SystemExit(f"{README} has no {START} ... {END} section")
    return found.group(1)


def rewritten(readme: str, report: dict) -> str:
    section(readme)
    return SECTION.sub(lambda _: f"{START}\n{headline(report)}\n{END}", readme)


def main(site: str = "dist") -> None:
    report = json.loads((Path(site) / REPORT_JSON).read_text(encoding="utf-8"))
    README.write_text(rewritten(README.read_text(encoding="utf-8"), report), encoding="utf-8")
    print(headline(report))


if __name__ == "__main__":
    main(*sys.argv[1:2])
