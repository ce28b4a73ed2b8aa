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
    graph.add_import(importer="staticml.contract", imported="staticml.stages.manifest")
    found = cycle(graph, module)
    assert "staticml.contract" in found and "staticml.stages.manifest" in found
    assert "staticml.contract" in cycle(graph, subpackage)
