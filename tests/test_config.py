from __future__ import annotations

from pathlib import Path

import pytest

from staticml.config import SETTINGS, EntryPoint, load_config
from staticml.errors import ConfigError
from tests.conftest import APP_DIR

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


def test_the_demo_config_loads():
    config = load_config(APP_DIR)
    assert config.name == "digits"
    assert config.model.n_features == 64
    assert config.preprocess == EntryPoint("digits.preprocess", "features")
    assert [f.name for f in config.fields] == ["image"]


def test_defaults_fill_what_is_not_set(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.title == "demo"
    assert config.model.input_name == "input"
    assert config.samples is None
    assert config.runtime.threads == 1
    assert config.fields[0].label == "image"
    assert config.brotli_quality == 11


def test_a_missing_folder_or_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"staticml.toml not found: an app directory needs"):
        load_config(tmp_path)


def test_invalid_toml_names_the_position(tmp_path):
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 2"):
        load_config(write(tmp_path, "[app]\nname = \n"))


def test_every_problem_is_reported_at_once_with_key_and_line(tmp_path):
    text = (
        MINIMAL.replace('name = "demo"', 'name = "Demo App"')
        .replace("n_features = 4", 'n_features = "four"\ntrian = "x"')
        .replace('type = "image"', 'type = "video"')
    )
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    message = str(raised.value)
    assert "4 problem(s)" in message
    assert "staticml.toml:2: app.name: 'Demo App' is not a valid name" in message
    assert "staticml.toml:6: model.n_features: expected a whole number, got str 'four'" in message
    assert "staticml.toml:7: model.trian: unknown setting; did you mean 'model.train'?" in message
    assert (
        "staticml.toml:14: input[0].type: unknown field type 'video'; supported types: image"
        in message
    )


def test_missing_required_settings_are_named(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "[app]\nname = 'x'\n"))
    message = str(raised.value)
    for key in ("model.train", "model.n_features", "preprocess.entry", "input"):
        assert f"{key}: missing" in message


def test_entry_points_must_be_module_colon_function(tmp_path):
    with pytest.raises(
        ConfigError, match=r"preprocess.entry: 'pkg.pre' is not a 'module:function' reference"
    ):
        load_config(write(tmp_path, MINIMAL.replace('"pkg.pre:features"', '"pkg.pre"')))


def test_duplicate_field_names_are_refused(tmp_path):
    text = MINIMAL + '\n[[input]]\nname = "image"\ntype = "image"\n'
    with pytest.raises(
        ConfigError, match=r"staticml.toml:16: input\[1\].name: duplicate field name 'image'"
    ):
        load_config(write(tmp_path, text))


def test_every_setting_has_help():
    assert all(s.help.strip() for s in SETTINGS)
