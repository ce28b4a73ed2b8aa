"""A minimal `staticml.toml`, written into an app folder with the functions it names, for the
configuration tests."""

from __future__ import annotations

from pathlib import Path

MINIMAL = """\
[app]
name = "demo"

[model]
train = "train:train"
n_features = 4

[preprocess]
entry = "pkg.pre:features"

[[input]]
name = "image"
type = "image"
"""

CODE = {
    "train.py": "def train():\n    raise NotImplementedError\n",
    "pkg/__init__.py": "",
    "pkg/pre.py": "def features(record):\n    return [0.0] * 4\n",
}
"""The modules MINIMAL names (the loader checks that its functions exist)."""


def write(tmp_path: Path, text: str) -> Path:
    for name, source in CODE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    (tmp_path / "staticml.toml").write_text(text)
    return tmp_path
