"""A minimal `staticml.toml`, written into an app folder, for the configuration tests."""

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


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "staticml.toml").write_text(text)
    return tmp_path
