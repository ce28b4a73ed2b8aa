"""Check that the Python shipped to the browser imports only what exists there.

Pyodide here has the standard library and nothing else (no numpy), so an import of anything
other than the stdlib, the app's own package or staticml's runtime fails in the visitor's
browser. This catches it at build time and names the file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from staticml.errors import BuildError

_STDLIB_LIST = Path(__file__).with_name("pyodide_stdlib.txt")
_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class ForeignImport:
    path: Path
    line: int
    module: str


@cache
def pyodide_stdlib() -> frozenset[str]:
    lines = _STDLIB_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_browser_imports(sources: Iterable[Path], own: Iterable[str], root: Path) -> None:
    """Raise BuildError listing every import that would fail in Pyodide."""
    allowed = pyodide_stdlib() | set(own)
    found = [
        imp for path in sources if path.suffix == ".py" for imp in foreign_imports(path, allowed)
    ]
    if not found:
        return
    listing = "\n".join(
        f"  {_shown(imp.path, root)}:{imp.line} imports {imp.module}" for imp in found
    )
    names = ", ".join(sorted({imp.module.split(".")[0] for imp in found}))
    raise BuildError(
        "The preprocessing cannot run in the browser: it imports packages that are neither in "
        f"Pyodide's standard library nor part of the app:\n{listing}\n"
        f"Browser-side Python has only the standard library and pure-Python code (no {names} "
        "there). Rewrite these parts with the standard library (array, math, statistics...), "
        "or keep them in build-time code such as the training script."
    )


def foreign_imports(path: Path, allowed: frozenset[str] | set[str]) -> list[ForeignImport]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise BuildError(
            f"{path}:{exc.lineno}: syntax error in preprocessing code: {exc.msg}"
        ) from exc
    visitor = _ImportVisitor()
    visitor.visit(tree)
    return [
        ForeignImport(path, line, module)
        for line, module in visitor.imports
        if module.split(".")[0] not in allowed and not module.startswith("staticml.runtime")
    ]


class _ImportVisitor(ast.NodeVisitor):
    """Collects absolute imports, skipping those guarded by `except ImportError`."""

    def __init__(self) -> None:
        self.imports: list[tuple[int, str]] = []
        self._guarded = 0

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self._guarded += guarded
        for statement in node.body:
            self.visit(statement)
        self._guarded -= guarded
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    def visit_Import(self, node: ast.Import) -> None:
        if not self._guarded:
            self.imports.extend((node.lineno, alias.name) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not self._guarded and node.level == 0 and node.module:
            self.imports.append((node.lineno, node.module))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in _GUARDS for k in kinds)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)
