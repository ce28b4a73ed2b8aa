from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from staticml.errors import BuildError
from staticml.stages.purity import (
    _STDLIB_LIST,
    check_browser_imports,
    foreign_imports,
    pyodide_stdlib,
)
from tests.support import ROOT


def module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "pkg" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_numpy_is_refused_naming_file_and_line(tmp_path):
    source = module(
        tmp_path, "pre.py", "import math\n\nimport numpy as np\nfrom pandas.io import x\n"
    )
    with pytest.raises(BuildError) as raised:
        check_browser_imports([source], {"pkg"}, tmp_path / "app")
    message = str(raised.value)
    assert "pkg/pre.py:3 imports numpy" in message
    assert "pkg/pre.py:4 imports pandas.io" in message
    assert "no numpy, pandas there" in message
    assert "math" not in message.split("\n")[1]


def test_stdlib_own_package_relative_and_guarded_imports_are_fine(tmp_path):
    source = module(
        tmp_path,
        "ok.py",
        "import json, array\nfrom . import sibling\nfrom pkg.util import f\nimport staticml.runtime.schema\n"
        "try:\n    import numpy\nexcept ImportError:\n    numpy = None\n",
    )
    check_browser_imports([source], {"pkg"}, tmp_path)


def test_imports_inside_functions_are_checked(tmp_path):
    source = module(tmp_path, "late.py", "def f():\n    import sklearn\n")
    assert [(i.line, i.module) for i in foreign_imports(source, pyodide_stdlib())] == [
        (2, "sklearn")
    ]


def test_a_syntax_error_is_reported_with_its_line(tmp_path):
    source = module(tmp_path, "broken.py", "x = 1\ndef (:\n")
    with pytest.raises(BuildError, match=r"broken.py:2: syntax error"):
        check_browser_imports([source], {"pkg"}, tmp_path)


def test_modules_missing_from_pyodide_are_refused(tmp_path):
    source = module(tmp_path, "ui.py", "import tkinter\n")
    with pytest.raises(BuildError, match="imports tkinter"):
        check_browser_imports([source], {"pkg"}, tmp_path)


def test_the_stdlib_list_matches_the_pinned_pyodide():
    """Regenerates the list in Node with the vendored Pyodide; it must equal the committed one."""
    node = shutil.which("node")
    assert node, "Node.js is required (it is part of the base image)"
    generated = subprocess.run(
        [node, str(ROOT / "scripts" / "pyodide-stdlib.mjs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert generated == _STDLIB_LIST.read_text(encoding="utf-8")
    version = json.loads((ROOT / "node_modules/pyodide/package.json").read_text())["version"]
    assert f"Pyodide {version}" in generated
