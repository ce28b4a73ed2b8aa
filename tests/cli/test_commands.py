from __future__ import annotations

import subprocess
import sys

import staticml
import staticml.cli


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", *args], capture_output=True, text=True, cwd=cwd
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    assert "build" in result.stdout and "serve" in result.stdout


def test_both_module_entry_points_reach_every_command():
    commands = sorted(staticml.cli.cli.commands)
    assert {"build", "retrain", "watch", "lineage"} <= set(commands)
    for module in ("staticml", "staticml.cli"):
        for command in commands:
            result = subprocess.run(
                [sys.executable, "-m", module, command, "--help"], capture_output=True, text=True
            )
            assert result.returncode == 0, (module, command, result.stderr)
            assert result.stdout.startswith(f"Usage: staticml {command} "), (module, command)


def test_version():
    assert run("--version").stdout.strip() == f"staticml, version {staticml.__version__}"


def test_a_config_error_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "staticml.toml").write_text("[app]\nname = 'Bad Name'\n")
    result = run("build", str(tmp_path), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert "staticml.toml:2: app.name" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_build_error_is_a_message_not_a_traceback(tmp_path):
    app = tmp_path / "app"
    (app / "pkg").mkdir(parents=True)
    (app / "pkg" / "__init__.py").write_text("")
    (app / "pkg" / "pre.py").write_text("import numpy\n\ndef features(record):\n    return []\n")
    (app / "train.py").write_text("def train():\n    raise NotImplementedError\n")
    (app / "staticml.toml").write_text(
        "[app]\nname = 'x'\n[model]\ntrain = 'train:train'\nn_features = 2\n"
        "[preprocess]\nentry = 'pkg.pre:features'\n[[input]]\nname = 'image'\ntype = 'image'\n"
    )
    result = run("build", str(app), "-o", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 1, result.stderr
    assert "pkg/pre.py:1 imports numpy" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
