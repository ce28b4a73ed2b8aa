"""Check the functions a staticml.toml names (`module:function`) without importing the app.

Importing would run the app's imports, which costs seconds with scikit-learn, and fails for a
module importing a package that only `preprocess.dependencies` provides (shipped to the
browser, not installed here). So the module is found as an import would find it, with the app
directory first on the path (`staticml.app_code.isolated_imports`), and its source is read with
`ast`: a top-level `def` gives the function and its parameters, checked against the arguments
staticml passes; a name bound any other way (an import, an assignment, a class) is taken on
trust. A module outside the app directory (an installed one) only has to be found.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.machinery
import pkgutil
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from staticml.settings.parsers import EntryPoint

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NOT_CALLABLE = {
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.ListComp: "list",
    ast.SetComp: "set",
    ast.DictComp: "dict",
    ast.GeneratorExp: "generator",
    ast.JoinedStr: "str",
}
_DYNAMIC = {"globals", "exec", "setattr", "vars"}
"""Calls at a module's top level that may bind names `ast` cannot see."""


@dataclass
class _Names:
    """The names a module binds at its top level, each with the statements binding it."""

    bound: dict[str, list[ast.stmt]] = field(default_factory=dict)
    open: bool = False
    """Whether names may be bound unseen (`from x import *`, a module `__getattr__`, `globals()`)."""

    def add(self, name: str, statement: ast.stmt) -> None:
        self.bound.setdefault(name, []).append(statement)


@dataclass(frozen=True)
class _Source:
    path: Path
    shown: str
    """The path as reported: relative to the app directory."""
    names: _Names


class _Problem(Exception):
    """Why an entry point is unusable (internal: the caller turns it into a config problem)."""


def entry_point_problem(entry: EntryPoint, arguments: tuple[str, ...], app_dir: Path) -> str | None:
    """Why `entry` cannot be called with `arguments` from `app_dir`, or None if it can."""
    try:
        source = _app_source(entry.module, app_dir)
        if source is not None:
            _check_function(source, entry.function, arguments)
    except _Problem as problem:
        return f"'{entry}': {problem}"
    return None


def _app_source(module: str, app_dir: Path) -> _Source | None:
    """The module's source when it is in the app directory; None for a module found elsewhere."""
    spec = _find(module, app_dir)
    origin = Path(spec.origin) if spec.origin and spec.has_location else None
    locations = list(spec.submodule_search_locations or [])
    inside = [p for p in ([origin] if origin else map(Path, locations)) if _is_under(p, app_dir)]
    if not inside:
        return None
    if origin is None:
        raise _Problem(
            f"{module} is a folder without __init__.py ({_shown(inside[0], app_dir)}), which "
            "defines no functions: name a module in it (package.module:function)"
        )
    if origin.suffix != ".py":
        return None
    try:
        stat = origin.stat()
    except OSError as exc:
        raise _Problem(f"{_shown(origin, app_dir)} cannot be read: {exc}") from exc
    found = _read(origin, app_dir, stat.st_mtime_ns, stat.st_size)
    if isinstance(found, _Problem):
        raise found
    assert isinstance(found, _Source)
    return found


def _find(module: str, app_dir: Path) -> importlib.machinery.ModuleSpec:
    """The spec an import of `module` would use, app directory first, importing nothing.

    `importlib.util.find_spec` would import a dotted name's parent packages; here each part is
    looked up in its parent's folders instead.
    """
    top, *rest = module.split(".")
    spec = _find_top(top, [str(app_dir), *sys.path])
    if spec is None:
        raise _Problem(_missing(top, top, [app_dir], app_dir))
    for index, part in enumerate(rest, start=2):
        name = ".".join(module.split(".")[:index])
        parent = name.rpartition(".")[0]
        locations = spec.submodule_search_locations
        if locations is None:
            raise _Problem(f"{parent} is a module, not a package: it has no module {part!r}")
        child = importlib.machinery.PathFinder.find_spec(name, list(locations))
        if child is None:
            raise _Problem(_missing(name, part, [Path(p) for p in locations], app_dir))
        spec = child
    return spec


def _find_top(name: str, path: list[str]) -> importlib.machinery.ModuleSpec | None:
    """As `sys.meta_path` finds a top-level module, with `path` for the path-based finder."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, path if finder is importlib.machinery.PathFinder else None)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            return spec
    return None


def _missing(name: str, part: str, folders: list[Path], app_dir: Path) -> str:
    where = ", ".join(_shown(folder, app_dir) for folder in folders)
    known = sorted({info.name for info in pkgutil.iter_modules([str(f) for f in folders])})
    message = f"no module {name!r} in {where}"
    if folders == [app_dir]:
        message += ", nor an installed one"
    hint = difflib.get_close_matches(part, known, n=1)
    if hint:
        message += f"; did you mean '{name[: len(name) - len(part)]}{hint[0]}'?"
    return message


@functools.lru_cache(maxsize=64)
def _read(path: Path, app_dir: Path, mtime_ns: int, size: int) -> _Source | _Problem:
    """The names the module at `path` binds (cached while its modification time and size stay:
    several settings often name one module, and a process may load a config many times)."""
    shown = _shown(path, app_dir)
    try:
        with warnings.catch_warnings():  # an invalid escape, say: Python warns as it imports
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return _Problem(f"{shown}:{exc.lineno}: invalid Python: {exc.msg}")
    except (OSError, ValueError) as exc:
        return _Problem(f"{shown} cannot be read: {exc}")
    names = _Names()
    _collect(tree.body, names)
    return _Source(path, shown, names)


def _check_function(source: _Source, function: str, arguments: tuple[str, ...]) -> None:
    statements = source.names.bound.get(function)
    if not statements:
        if source.names.open:
            return
        raise _Problem(f"{source.shown} defines no {function!r}{_suggestion(source, function)}")
    if len(statements) > 1:
        return  # bound more than once (in an if or try, say): which one wins is not read here
    [statement] = statements
    if isinstance(statement, _FUNCTIONS) and not statement.decorator_list:
        problem = _signature_problem(statement, arguments)
        if problem:
            raise _Problem(f"{source.shown}:{statement.lineno} {problem}")
    elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        kind = _literal_kind(statement.value)
        if kind and isinstance(statement.targets[0], ast.Name):
            raise _Problem(
                f"{source.shown}:{statement.lineno} binds {function!r} to {kind}, not a function"
            )


def _suggestion(source: _Source, function: str) -> str:
    functions = [n for n, s in source.names.bound.items() if isinstance(s[0], _FUNCTIONS)]
    hint = difflib.get_close_matches(function, functions, n=1) or difflib.get_close_matches(
        function, list(source.names.bound), n=1
    )
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _signature_problem(
    function: ast.FunctionDef | ast.AsyncFunctionDef, arguments: tuple[str, ...]
) -> str | None:
    """Why `function` cannot be called with `arguments` positionally, or None if it can."""
    spec = function.args
    positional = [*spec.posonlyargs, *spec.args]
    required = len(positional) - len(spec.defaults)
    keywords = [a.arg for a, d in zip(spec.kwonlyargs, spec.kw_defaults, strict=True) if d is None]
    if (
        required <= len(arguments)
        and (len(arguments) <= len(positional) or spec.vararg is not None)
        and not keywords
    ):
        return None
    called = f"{function.name}({', '.join(arguments)})"
    given = f"with {_count(len(arguments))}" if arguments else "with no arguments"
    return (
        f"defines {function.name}({_parameters(spec)}), but staticml calls it {given}, as "
        f"{called}: change its parameters to match"
    )


def _parameters(spec: ast.arguments) -> str:
    positional = [*spec.posonlyargs, *spec.args]
    first_default = len(positional) - len(spec.defaults)
    shown = [a.arg + ("=…" if i >= first_default else "") for i, a in enumerate(positional)]
    if spec.vararg is not None:
        shown.append(f"*{spec.vararg.arg}")
    elif spec.kwonlyargs:
        shown.append("*")
    for argument, default in zip(spec.kwonlyargs, spec.kw_defaults, strict=True):
        shown.append(argument.arg + ("=…" if default is not None else ""))
    if spec.kwarg is not None:
        shown.append(f"**{spec.kwarg.arg}")
    return ", ".join(shown)


def _count(n: int) -> str:
    return f"{n} argument" + ("" if n == 1 else "s")


def _literal_kind(value: ast.expr) -> str | None:
    """`an int`, `a list`, ... when `value` is a literal (which is never callable)."""
    if isinstance(value, ast.Constant):
        if value.value is None:
            return "None"
        kind: str | None = type(value.value).__name__
    else:
        kind = _NOT_CALLABLE.get(type(value))
    if kind is None:
        return None
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _collect(body: Iterable[ast.stmt], names: _Names) -> None:
    """Add the names `body`, a module's top level, binds (descending into if, try, with, ...)."""
    for statement in body:
        if isinstance(statement, (*_FUNCTIONS, ast.ClassDef)):
            names.add(statement.name, statement)
            names.open |= statement.name == "__getattr__"
            continue
        if isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    names.open = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0], statement)
            continue
        for node in _expressions(statement):
            _bind(node, statement, names)
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            nested = getattr(statement, block, None)
            if isinstance(nested, list):
                _collect(_statements(nested), names)


def _expressions(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes under `node` that run in the module's scope, nested statements left out."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt | ast.Lambda | ast.ExceptHandler):
            continue
        yield child
        yield from _expressions(child)


def _statements(nested: list[ast.AST]) -> Iterator[ast.stmt]:
    for item in nested:
        if isinstance(item, ast.stmt):
            yield item
        elif isinstance(item, ast.ExceptHandler | ast.match_case):
            yield from item.body


def _bind(node: ast.AST, statement: ast.stmt, names: _Names) -> None:
    """Record the name `node`, a part of `statement`, binds, if it binds one."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        names.add(node.id, statement)
    elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
        names.add(node.name, statement)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        names.add(node.rest, statement)
    elif (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC
    ):
        names.open = True


def _is_under(path: Path, folder: Path) -> bool:
    """Whether `path` is in `folder` as the import system names it (symbolic links not followed:
    the finders give paths under the path entry they searched)."""
    return path.is_relative_to(folder)


def _shown(path: Path, app_dir: Path) -> str:
    """`path` relative to the app directory (a folder with a trailing slash)."""
    if path == app_dir:
        return "the app directory"
    shown = path.relative_to(app_dir).as_posix() if _is_under(path, app_dir) else str(path)
    return f"{shown}/" if path.is_dir() else shown
