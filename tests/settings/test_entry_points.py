"""The functions a staticml.toml names are checked as it loads, from their source, unimported."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from staticml.config import load_config
from staticml.errors import ConfigError
from tests.support.configs import MINIMAL, write


def app(tmp_path: Path, pre: str, text: str = MINIMAL) -> Path:
    """MINIMAL's app with `pkg/pre.py` holding `pre`."""
    write(tmp_path, text)
    (tmp_path / "pkg" / "pre.py").write_text(textwrap.dedent(pre))
    return tmp_path


def problems(tmp_path: Path, pre: str, text: str = MINIMAL) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(app(tmp_path, pre, text))
    return str(raised.value)


def test_the_module_is_read_not_imported(tmp_path):
    """Its imports may exist only in the browser (preprocess.dependencies), and importing
    scikit-learn would cost the loader a second."""
    marker = tmp_path / "imported"
    config = load_config(
        app(
            tmp_path,
            f"""
            import only_shipped_to_the_browser
            open({str(marker)!r}, "w").close()

            def features(record):
                return only_shipped_to_the_browser.parse(record)
            """,
        )
    )
    assert str(config.preprocess.entry) == "pkg.pre:features"
    assert not marker.exists()
    loaded = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
    assert not [file for file in loaded if file.startswith(str(tmp_path))]


def test_a_misspelt_function_is_named_with_its_line_and_the_likely_one(tmp_path):
    message = problems(tmp_path, "def featurs(record):\n    return []\n")
    assert (
        "staticml.toml:9: preprocess.entry: 'pkg.pre:features': pkg/pre.py defines no "
        "'features'; did you mean 'featurs'?"
    ) in message


def test_a_misspelt_module_is_named_with_the_likely_one(tmp_path):
    text = MINIMAL.replace('entry = "pkg.pre:features"', 'entry = "pkg.pro:features"')
    message = problems(tmp_path, "def features(record):\n    return []\n", text)
    assert "'pkg.pro:features': no module 'pkg.pro' in pkg/; did you mean 'pkg.pre'?" in message
    text = MINIMAL.replace('entry = "pkg.pre:features"', 'entry = "pgk.pre:features"')
    message = problems(tmp_path, "def features(record):\n    return []\n", text)
    assert (
        "'pgk.pre:features': no module 'pgk' in the app directory, nor an installed one; "
        "did you mean 'pkg'?"
    ) in message


@pytest.mark.parametrize(
    "pre",
    [
        "from .helpers import features\n",
        "from pkg.helpers import make\nfeatures = make()\n",
        "class features:\n    def __init__(self, record):\n        self.record = record\n",
        "try:\n    from fast import features\nexcept ImportError:\n    def features(r):\n"
        "        return []\n",
        "from pkg.helpers import *\n",
        "import functools\n@functools.cache\ndef features(record, scale):\n    return []\n",
        "def features(record, scale=1.0, *, offset=0.0):\n    return []\n",
        "def features(*values):\n    return []\n",
        "if True:\n    def features(record):\n        return []\n",
    ],
    ids=[
        "imported",
        "assigned",
        "a class",
        "in a try",
        "star import",
        "decorated",
        "defaults",
        "varargs",
        "in an if",
    ],
)
def test_a_function_bound_otherwise_or_taking_the_arguments_is_accepted(tmp_path, pre):
    assert load_config(app(tmp_path, pre)).preprocess.entry.function == "features"


@pytest.mark.parametrize(
    ("pre", "expected"),
    [
        ("features = [1, 2]\n", "pkg/pre.py:1 binds 'features' to a list, not a function"),
        ("features = 3\n", "pkg/pre.py:1 binds 'features' to an int, not a function"),
        (
            "\ndef features(record, scale):\n    return []\n",
            "pkg/pre.py:2 defines features(record, scale), but staticml calls it with 1 "
            "argument, as features(record)",
        ),
        (
            "def features():\n    return []\n",
            "pkg/pre.py:1 defines features(), but staticml calls it with 1 argument",
        ),
        (
            "def features(record, *, scale):\n    return []\n",
            "pkg/pre.py:1 defines features(record, *, scale), but staticml calls it",
        ),
        (
            "def helper():\n    features = 1\n    return features\n",
            "pkg/pre.py defines no 'features'",
        ),
        ("def features(record:\n    return []\n", "pkg/pre.py:1: invalid Python: "),
    ],
    ids=["a list", "an int", "two parameters", "none", "keyword-only", "local", "syntax"],
)
def test_a_function_that_cannot_be_called_so_is_refused(tmp_path, pre, expected):
    message = problems(tmp_path, pre)
    assert "staticml.toml:9: preprocess.entry: 'pkg.pre:features': " + expected in message


def test_each_setting_is_checked_against_its_own_arguments(tmp_path):
    text = MINIMAL + '\n[train]\nstateless = "pkg.pre:fit"\nstateful = "pkg.pre:update"\n'
    pre = """
    def features(record):
        return []

    def fit(records, labels):
        pass

    def update(records, labels):
        pass
    """
    message = problems(tmp_path, pre, text)
    assert "1 problem(s)" in message
    assert (
        "staticml.toml:17: train.stateful: 'pkg.pre:update': pkg/pre.py:8 defines "
        "update(records, labels), but staticml calls it with 3 arguments, as "
        "update(model, records, labels)"
    ) in message


def test_a_function_of_a_package_and_installed_modules_are_found(tmp_path):
    text = MINIMAL.replace('"pkg.pre:features"', '"pkg:features"') + (
        '\n[samples]\nsource = "email.utils:anything"\n'
    )
    write(tmp_path, text)
    (tmp_path / "pkg" / "__init__.py").write_text("def features(record):\n    return []\n")
    config = load_config(tmp_path)
    assert str(config.samples.source) == "email.utils:anything", "installed: only looked for"
    (tmp_path / "pkg" / "__init__.py").write_text("def features(values, scale):\n    return []\n")
    with pytest.raises(ConfigError, match=r"pkg/__init__\.py:1 defines features\(values, scale\)"):
        load_config(tmp_path)


def test_a_folder_without_init_or_a_module_taken_for_a_package_is_named(tmp_path):
    (tmp_path / "loose").mkdir()
    text = MINIMAL + '\n[samples]\nsource = "loose:samples"\n[compress]\neval = "train.sub:f"\n'
    message = problems(tmp_path, "def features(record):\n    return []\n", text)
    assert "samples.source: 'loose:samples': loose is a folder without __init__.py" in message
    assert "compress.eval: 'train.sub:f': train is a module, not a package" in message
