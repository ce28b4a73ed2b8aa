"""Each setting is declared once: its declaration is its key, attribute, parser, default and docs.

docs/configuration.md is checked against the same declarations in tests/test_docs.py.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from staticml.config import load_config
from staticml.errors import ConfigError
from staticml.settings import FIELD_SETTINGS, SETTINGS, TABLES, AppConfig, Field
from staticml.settings.declare import REQUIRED, Setting, declared, toml_literal
from staticml.settings.parsers import (
    epsilon,
    finite,
    fraction,
    non_negative,
    number,
    percent,
    positive_seconds,
)
from tests.support.configs import MINIMAL, write

# Settings whose unset value is derived from another one rather than being the default.
DERIVED = {"app.title": "the name", "label": "the name"}


def test_each_table_is_the_attribute_of_its_name_and_holds_only_declared_settings():
    names = [field.name for field in dataclasses.fields(AppConfig)]
    assert names == ["app_dir", "source", "text", *(name for name, _ in TABLES), "input"]
    for name, cls in TABLES:
        attributes = [field.name for field in dataclasses.fields(cls)]
        assert [s.key for s in declared(cls, f"{name}.")] == [f"{name}.{a}" for a in attributes]
    assert [s.key for s in FIELD_SETTINGS] == [f.name for f in dataclasses.fields(Field)]
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys)) == 55
    assert all(key.count(".") == 1 for key in keys)


def test_the_loaded_config_has_every_setting_at_its_key(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    given = {
        "app.name": "demo",
        "model.train": "train:train",
        "model.n_features": 4,
        "preprocess.entry": "pkg.pre:features",
    }
    for setting in SETTINGS:
        table, name = setting.key.split(".")
        value = getattr(getattr(config, table), name)
        if setting.key in given:
            assert str(value) == str(given[setting.key])
        elif setting.key in DERIVED:
            assert value == "demo"
        elif not setting.required:
            assert value == setting.value_when_unset, setting.key
    field = config.input[0]
    for setting in FIELD_SETTINGS:
        if setting.key not in {"name", "type", *DERIVED}:
            assert getattr(field, setting.key) == setting.value_when_unset, setting.key


def test_a_default_is_parsed_like_a_given_value():
    by_key = {s.key: s for s in SETTINGS}
    interval = by_key["monitor.interval_minutes"]
    assert interval.default == 15 and interval.value_when_unset == 15.0
    assert isinstance(interval.value_when_unset, float)
    assert by_key["retrain.trigger"].value_when_unset == ("psi>=0.2",)
    assert by_key["compress.prune"].value_when_unset == (0.5, 0.9)
    assert by_key["preprocess.entry"].value_when_unset is None
    for setting in (*SETTINGS, *FIELD_SETTINGS):
        setting.value_when_unset  # noqa: B018 (every default passes its own parser)


def test_the_documented_default_comes_from_the_declaration():
    row = {s.key: s.documented_default for s in (*SETTINGS, *FIELD_SETTINGS)}
    assert row["app.name"] == "required"
    assert row["app.title"] == "the name"
    assert row["model.file"] == "—"
    assert row["model.opset"] == "`17`"
    assert row["monitor.interval_minutes"] == "`15`"
    assert row["runtime.snapshot"] == "`true`"
    assert row["compress.mode"] == '`"auto"`'
    assert row["retrain.trigger"] == '`["psi>=0.2"]`'
    assert row["preprocess.dependencies"] == "none"
    made_up = Setting("x.y", str, REQUIRED, "Help.")
    assert made_up.markdown_row("t.") == "| `t.x.y` | required | Help. |"
    assert toml_literal([0.5, 0.9]) == "[0.5, 0.9]" and toml_literal(False) == "false"


def test_the_config_finds_the_line_of_any_key(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.line("model.n_features") == 6
    assert config.line("input[0].type") == 13
    assert config.text.startswith("[app]") and "[app]" not in repr(config)


@pytest.mark.parametrize(
    ("parse", "accepted", "refused", "message"),
    [
        (finite, [-1e300, 0, 7, 2.5], [math.inf, -math.inf], "expected a number, got"),
        (non_negative, [0, 0.5, 999_999], [-0.01, 1e6], "expected a number of at least 0, got"),
        (
            positive_seconds,
            [0.001, 60, math.inf],
            [0, -1],
            "expected a positive number of seconds, got",
        ),
        (
            fraction,
            [0.001, 0.999],
            [0, 1],
            "expected a number between 0 and 1 (exclusive), got",
        ),
        (percent, [0.1, 100], [0, 100.5], "expected a percentage above 0 and at most 100, got"),
        (epsilon, [0.01, 10], [0.009, 10.01], "expected a privacy budget ε from 0.01 to 10, got"),
    ],
)
def test_the_number_parsers_take_their_bounds(parse, accepted, refused, message):
    for value in accepted:
        assert parse(value) == value
    for value in [*refused, math.nan, True, "3", None, [1]]:
        with pytest.raises(ValueError) as raised:
            parse(value)
        assert str(raised.value).startswith(message)


def test_a_number_is_a_float_unless_kept_as_written():
    assert type(non_negative(3)) is float and non_negative(3) == 3.0
    assert type(finite(3)) is int
    with pytest.raises(TypeError, match="at most one lower"):
        number("x", above=0, at_least=0)
    with pytest.raises(ValueError, match=r"^expected a thing, got bool False$"):
        number("a thing", at_most=1)(False)


def test_a_boot_timeout_of_nan_is_refused(tmp_path):
    """The one value the single number parser refuses that the old copy let through."""
    path = write(tmp_path, MINIMAL + "\n[runtime]\nboot_timeout = nan\n")
    with pytest.raises(ConfigError, match=r"runtime\.boot_timeout: expected a positive number"):
        load_config(path)
    infinite = write(tmp_path, MINIMAL + "\n[runtime]\nboot_timeout = inf\n")
    assert load_config(infinite).runtime.boot_timeout == math.inf


def test_an_app_file_is_a_path_in_the_app_directory(tmp_path: Path):
    (tmp_path / "s.csv").write_text("a\n1\n")
    config = load_config(write(tmp_path, MINIMAL + '\n[samples]\nfile = "s.csv"\n'))
    assert config.samples.file == tmp_path.resolve() / "s.csv"
