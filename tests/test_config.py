from __future__ import annotations

from pathlib import Path

import pytest

from staticml.config import SETTINGS, EntryPoint, load_config
from staticml.errors import ConfigError
from tests.support import APP_DIR, ROOT
from tests.support.configs import MINIMAL, write


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    return str(raised.value)


def test_the_demo_config_loads():
    config = load_config(APP_DIR)
    assert config.app.name == "digits"
    assert config.model.n_features == 64
    assert config.preprocess.entry == EntryPoint("digits.preprocess", "features")
    assert [f.name for f in config.input] == ["image"]


def test_the_examples_load():
    wine = load_config(ROOT / "examples" / "wine")
    assert wine.model.file == ROOT / "examples" / "wine" / "model.joblib"
    assert wine.output.classes == ("cultivar 1", "cultivar 2", "cultivar 3")
    assert wine.preprocess.batch == EntryPoint("wine_app.preprocess", "features_batch")
    assert {f.type for f in wine.input} == {"number", "integer"}
    diabetes = load_config(ROOT / "examples" / "diabetes")
    assert diabetes.model.file.name == "model.onnx" and diabetes.samples.file.name == "samples.json"
    sex = next(f for f in diabetes.input if f.name == "sex")
    assert sex.type == "category" and sex.choices == ("1", "2")


def test_defaults_fill_what_is_not_set(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.app.title == "demo"
    assert config.model.input_name is None
    assert config.samples.source is None and config.samples.file is None
    assert config.runtime.threads == 1
    assert config.input[0].label == "image" and config.input[0].required
    assert config.build.brotli_quality == 11
    assert config.preprocess.dependencies == ()
    assert config.output.kind is None and config.output.target == "prediction"


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
    message = problems(tmp_path, text)
    assert "4 problem(s)" in message
    assert "staticml.toml:2: app.name: 'Demo App' is not a valid name" in message
    assert "staticml.toml:6: model.n_features: expected a whole number, got str 'four'" in message
    assert "staticml.toml:7: model.trian: unknown setting; did you mean 'model.train'?" in message
    assert (
        "staticml.toml:14: input 'image' (input[0]).type: expected one of number, integer, category, text, image, got 'video'"
        in message
    )


def test_missing_required_settings_are_named(tmp_path):
    message = problems(tmp_path, "[app]\nname = 'x'\n")
    assert "preprocess" not in message  # optional: a model may take the fields directly
    assert "input: missing" in message
    assert "model: give exactly one of model.file (a saved model) and model.train" in message


def test_model_file_and_training_are_exclusive_and_the_file_must_exist(tmp_path):
    message = problems(
        tmp_path, MINIMAL.replace('train = "train:train"', 'train = "train:train"\nfile = "m.onnx"')
    )
    assert "give exactly one of model.file" in message
    message = problems(tmp_path, MINIMAL.replace('train = "train:train"', 'file = "m.onnx"'))
    assert f"staticml.toml:5: model.file: {tmp_path / 'm.onnx'} does not exist" in message
    message = problems(tmp_path, MINIMAL.replace('train = "train:train"', 'file = "model.h5"'))
    assert "model.file: 'model.h5' must end with one of .onnx, .joblib, .pkl, .pickle" in message
    message = problems(tmp_path, MINIMAL.replace('train = "train:train"', 'file = "../m.onnx"'))
    assert "must be a path inside the app directory" in message


def test_entry_points_must_be_module_colon_function(tmp_path):
    message = problems(tmp_path, MINIMAL.replace('"pkg.pre:features"', '"pkg.pre"'))
    assert "preprocess.entry: 'pkg.pre' is not a 'module:function' reference" in message


def test_the_batch_entry_point_must_be_in_the_same_package(tmp_path):
    text = MINIMAL.replace(
        'entry = "pkg.pre:features"', 'entry = "pkg.pre:features"\nbatch = "other:many"'
    )
    assert "preprocess.batch: must be in the same package as preprocess.entry (pkg)" in problems(
        tmp_path, text
    )


def test_a_field_without_a_name_is_named_by_its_index(tmp_path):
    message = problems(tmp_path, MINIMAL + '\n[[input]]\ntype = "number"\n')
    assert "staticml.toml:15: input[1].name: missing required setting" in message


def test_duplicate_field_names_are_refused(tmp_path):
    text = MINIMAL + '\n[[input]]\nname = "image"\ntype = "image"\n'
    message = problems(tmp_path, text)
    assert (
        "staticml.toml:16: input 'image' (input[1]).name: duplicate field name 'image'" in message
    )


TABULAR = """\
[app]
name = "t"
[model]
train = "train:train"
[preprocess]
entry = "pkg.pre:features"
[[input]]
name = "size"
type = "number"
min = 0
max = 10
default = 5
[[input]]
name = "count"
type = "integer"
required = false
[[input]]
name = "colour"
type = "category"
choices = ["red", "green"]
default = "red"
[[input]]
name = "notes"
type = "text"
max_length = 200
"""


def test_field_types_and_constraints(tmp_path):
    fields = {f.name: f for f in load_config(write(tmp_path, TABULAR)).input}
    assert fields["size"].min == 0 and fields["size"].max == 10
    assert fields["size"].default == 5.0 and not fields["size"].required
    assert fields["count"].required is False and fields["count"].default is None
    assert fields["colour"].choices == ("red", "green") and fields["colour"].default == "red"
    assert fields["notes"].max_length == 200 and fields["notes"].required
    spec = fields["size"].spec()
    assert spec["min"] == 0 and spec["max"] == 10 and spec["default"] == 5.0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("default = 5", "default = 50"),
            "staticml.toml:12: input 'size' (input[0]).default: expected a number from 0 to 10, got 50",
        ),
        (
            ("max = 10", "max = -1"),
            "staticml.toml:11: input 'size' (input[0]).max: is -1, below min 0",
        ),
        (
            ('default = "red"', 'default = "blue"'),
            "staticml.toml:21: input 'colour' (input[2]).default: expected one of 'red', 'green', got 'blue'",
        ),
        (
            ('choices = ["red", "green"]', "choices = []"),
            "staticml.toml:20: input 'colour' (input[2]).choices: a category needs at least one choice",
        ),
        (
            ("max_length = 200", "max_length = 200\nmin = 1"),
            "staticml.toml:26: input 'notes' (input[3]).min: only applies to number and integer fields, not text",
        ),
        (
            ("required = false", "required = 'no'"),
            "staticml.toml:16: input 'count' (input[1]).required: expected true or false, got str 'no'",
        ),
    ],
)
def test_field_problems_are_named(tmp_path, change, expected):
    assert expected in problems(tmp_path, TABULAR.replace(*change))


def test_a_category_needs_choices(tmp_path):
    text = TABULAR.replace('choices = ["red", "green"]\ndefault = "red"\n', "")
    assert (
        "input 'colour' (input[2]).choices: a category field needs its list of choices"
        in problems(tmp_path, text)
    )


def test_dependencies_must_be_requirements(tmp_path):
    pinned = "six==1.16.0 --hash=sha256:" + "0" * 64
    good = MINIMAL.replace(
        'entry = "pkg.pre:features"',
        f'entry = "pkg.pre:features"\ndependencies = ["{pinned}", "attrs"]',
    )
    assert load_config(write(tmp_path, good)).preprocess.dependencies == (pinned, "attrs")
    bad = MINIMAL.replace(
        'entry = "pkg.pre:features"',
        'entry = "pkg.pre:features"\ndependencies = ["not a package!"]',
    )
    assert "'not a package!' is not a requirement" in problems(tmp_path, bad)
    for option in ("six==1.16.0 --index-url=http://x", "six==1.16.0 --hash=md5:00"):
        other = MINIMAL.replace(
            'entry = "pkg.pre:features"',
            f'entry = "pkg.pre:features"\ndependencies = ["{option}"]',
        )
        assert f"{option!r} is not a requirement" in problems(tmp_path, other)


def test_a_page_template_and_a_samples_file_must_exist(tmp_path):
    text = MINIMAL + '\n[page]\ntemplate = "page.html"\n[samples]\nfile = "s.csv"\n'
    message = problems(tmp_path, text)
    assert "page.template:" in message and "page.html does not exist" in message
    assert "samples.file:" in message and "s.csv does not exist" in message


def test_every_setting_has_help():
    assert all(s.help.strip() for s in SETTINGS)


def test_a_value_ending_in_a_newline_is_a_config_error_naming_the_setting(tmp_path):
    text = MINIMAL.replace('name = "demo"', 'name = "demo\\n"') + (
        '\n[monitor]\ncollector = "http://127.0.0.1:8701\\n"\n'
    )
    message = problems(tmp_path, text)
    assert "staticml.toml:2: app.name: 'demo\\n' is not a valid name" in message
    assert (
        "staticml.toml:16: monitor.collector: 'http://127.0.0.1:8701\\n' is not a collector URL"
        in message
    )


def test_a_daily_privacy_budget_needs_epsilon_and_room_for_one_summary(tmp_path):
    message = problems(tmp_path, MINIMAL + "\n[monitor]\nepsilon_per_day = 4\n")
    assert "monitor.epsilon_per_day: is a budget of local-DP noise: set monitor.epsilon" in message
    message = problems(tmp_path, MINIMAL + "\n[monitor]\nepsilon = 2\nepsilon_per_day = 1\n")
    assert "is 1, less than one summary's monitor.epsilon = 2" in message
    config = load_config(
        write(tmp_path, MINIMAL + "\n[monitor]\nepsilon = 1\nepsilon_per_day = 3\n")
    )
    assert config.monitor.epsilon_per_day == 3
