"""Docs that tests keep honest: every setting and every CLI option is documented."""

from __future__ import annotations

import json
import re

import click

from staticml.cli import cli
from staticml.config import FIELD_SETTINGS, SETTINGS
from tests.support import ROOT


def table_rows(text: str, heading: str) -> list[str]:
    """The body rows of the first table under `heading`."""
    after = text[text.index(f"\n{heading}\n") :]
    table = re.search(r"^\|.*\n\|[-|]+\|\n((?:\|.*\n)+)", after, re.M)
    assert table, f"no table under {heading}"
    return table.group(1).splitlines()


def test_every_setting_is_documented_as_declared():
    """docs/configuration.md's tables are the declarations: key, default and help, in order."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.key}`" in text, f"{setting.key} is not in docs/configuration.md"
    for setting in FIELD_SETTINGS:
        assert f"`input.{setting.key}`" in text, (
            f"input.{setting.key} is not in docs/configuration.md"
        )
    assert table_rows(text, "## Settings") == [s.markdown_row() for s in SETTINGS]
    assert table_rows(text, "## Input fields: `[[input]]`") == [
        s.markdown_row("input.") for s in FIELD_SETTINGS
    ]


def test_every_cli_option_is_documented():
    text = (ROOT / "docs" / "cli.md").read_text()
    for name, command in cli.commands.items():
        assert f"staticml {name}" in text
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(f"`{opt}" in text for opt in param.opts), (
                    f"staticml {name} {param.opts} is undocumented"
                )


def test_the_readme_headline_is_what_the_build_reports(built_site):
    from scripts.readme_headline import section
    from staticml.stages.report import headline

    report = json.loads((built_site.path / "model.json").read_text())
    assert section((ROOT / "README.md").read_text()) == headline(report), (
        "README.md's headline is stale: run `python scripts/readme_headline.py DIST` on a fresh build"
    )


def test_the_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^\s*(\./dev \w+)", readme, re.M)
    assert commands[:2] == ["./dev demo", "./dev test"]
    assert "./dev test" in ci


def test_the_readme_quotes_the_benchmark_as_measured():
    results = (ROOT / "bench" / "results.md").read_text()
    block = re.search(r"<!-- readme -->\n.*?\n<!-- /readme -->", results, re.S)
    assert block, "bench/results.md has no block for the README: run ./dev bench"
    assert block.group(0) in (ROOT / "README.md").read_text(), (
        "README.md's benchmark figures differ from bench/results.md: copy its readme block"
    )


def test_the_readme_states_the_minimum_versions_the_page_checks():
    """The versions a visitor is told (static/features.js) are the README's, row by row."""
    source = (ROOT / "static" / "features.js").read_text()
    features = re.findall(r'name: "([^"(]+?)(?: \([^"]*\))?", versions: "([^"]+)"', source)
    [minimum] = re.findall(r'export const MINIMUM = "([^"]+)"', source)
    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index("\n#### Minimum versions\n") :]
    table = re.search(r"^\|.*\n\|[-|:]+\|\n((?:\|.*\n)+)", after, re.M)
    assert table, "no table under Minimum versions"
    rows = table.group(1).splitlines()
    cells = [[cell.strip().strip("*") for cell in row.strip("|").split("|")] for row in rows]
    readme_versions = {tuple(row[2:]) for row in cells}
    for name, versions in features:
        if name == "WebAssembly":
            continue  # implied by every row
        wanted = tuple(v.rsplit(" ", 1)[1] for v in versions.split(", "))
        assert wanted in readme_versions, (name, versions)
    newest = tuple(max(column, key=float) for column in zip(*readme_versions, strict=True))
    assert minimum == f"Chrome {newest[0]}, Firefox {newest[1]} or Safari {newest[2]}"
    assert f"**{minimum}**" in readme
    # What the page's HTML says when no script of it could run to say more.
    assert f"{minimum} or later" in (ROOT / "index.html").read_text()
