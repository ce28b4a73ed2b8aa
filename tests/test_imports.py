"""The package's import graph has no cycles, between modules or between its subpackages.

grimp reads every import statement (those inside functions too, but not those under
`TYPE_CHECKING`); `graphlib` names a cycle if there is one.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable

import grimp
import pytest


@pytest.fixture
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("staticml", exclude_type_checking_imports=True, cache_dir=None)


def module(name: str) -> str:
    return name


def subpackage(name: str) -> str:
    """`staticml.collector.storage` → `staticml.collector`; a top-level module stays itself."""
    return ".".join(name.split(".")[:2])


def cycle(graph: grimp.ImportGraph, node: Callable[[str], str]) -> list[str]:
    imports: dict[str, set[str]] = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if node(importer) != node(imported):
                imports.setdefault(node(importer), set()).add(node(imported))
    try:
        tuple(graphlib.TopologicalSorter(imports).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


@pytest.mark.parametrize("node", [module, subpackage], ids=["modules", "subpackages"])
def test_no_import_cycles(graph: grimp.ImportGraph, node: Callable[[str], str]) -> None:
    assert cycle(graph, node) == []


def test_a_cycle_is_found_where_there_is_one(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="staticml.runtime.contract", imported="staticml.stages.manifest")
    found = cycle(graph, module)
    assert "staticml.runtime.contract" in found and "staticml.stages.manifest" in found
    assert {"staticml.runtime", "staticml.stages"} <= set(cycle(graph, subpackage))


# The build's own front doors: they run a build (`staticml.stages.build_app`) and show its result.
BUILD_CALLERS = {
    "staticml.api",
    "staticml.cli.building",
    "staticml.cli.render",
    "staticml.learning.retrain",
    "staticml.watch",
}


def outside_imports_of_the_build(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """What modules outside `staticml.stages` import from it, where they may not."""
    found: dict[str, set[str]] = {}
    for importer in graph.modules:
        if importer == "staticml.stages" or importer.startswith("staticml.stages."):
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            stage = imported.startswith("staticml.stages.")
            if stage or (imported == "staticml.stages" and importer not in BUILD_CALLERS):
                found.setdefault(importer, set()).add(imported)
    return found


def test_only_the_build_imports_its_stages(graph: grimp.ImportGraph) -> None:
    """Scoring, learning, the collector, rollout and serving read what a build wrote through
    `staticml.runtime.contract`, never through a build stage."""
    assert outside_imports_of_the_build(graph) == {}


def test_an_import_of_a_stage_from_outside_is_found(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="staticml.scoring.bundle", imported="staticml.stages.wheels")
    graph.add_import(importer="staticml.collector.app", imported="staticml.stages")
    assert outside_imports_of_the_build(graph) == {
        "staticml.scoring.bundle": {"staticml.stages.wheels"},
        "staticml.collector.app": {"staticml.stages"},
    }
