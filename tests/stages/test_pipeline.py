"""The pipeline's own choices: `--no-browser` runs no step in Chromium and says what it skipped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.support.iris import iris_app


def _build(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", "build", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture
def no_chromium(tmp_path):
    """An environment in which any step that starts Chromium fails."""
    return {**os.environ, "STATICML_CHROMIUM": str(tmp_path / "no-chromium")}


def test_no_browser_builds_without_chromium_and_says_what_it_skipped(tmp_path, no_chromium):
    app = iris_app(tmp_path)  # its staticml.toml has a quick brotli and the snapshot on
    completed = _build(str(app), "-o", str(tmp_path / "out"), "--no-browser", env=no_chromium)
    assert completed.returncode == 0, completed.stderr
    summary = " ".join(completed.stderr.split())
    assert (
        "Skipped (--no-browser): shipped uncompressed (compress.mode = 'auto' measures the "
        "variants in Chromium); no Python snapshot (the page starts Python without one, more "
        "slowly); not verified in a browser" in summary
    )
    report = json.loads((tmp_path / "out" / "model.json").read_text())
    assert report["choice"]["mode"] == "off" and report["browser"] is None
    manifest = json.loads((tmp_path / "out" / "bundle.json").read_text())
    assert not [path for path in manifest["assets"] if path.endswith(".snapshot")]


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("--verify", "--verify runs the built site in Chromium, which --no-browser rules out"),
        ("--compress=fp16", "--compress fp16 measures the model's variants in Chromium"),
    ],
)
def test_no_browser_refuses_what_needs_a_browser(tmp_path, no_chromium, option, problem):
    app = iris_app(tmp_path)
    completed = _build(
        str(app), "-o", str(tmp_path / "out"), "--no-browser", option, env=no_chromium
    )
    assert completed.returncode == 1
    assert problem in " ".join(completed.stderr.split())
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_a_build_with_a_file_over_the_hosts_limit_is_refused_naming_it(tmp_path, no_chromium):
    app = iris_app(tmp_path)
    config = app / "staticml.toml"
    config.write_text(config.read_text().replace("[build]\n", "[build]\nmax_file_mib = 5\n"))
    out = tmp_path / "out"
    completed = _build(str(app), "-o", str(out), "--no-browser", env=no_chromium)
    assert completed.returncode == 1
    message = " ".join(completed.stderr.split())
    assert "over the 5 MiB a file may be (build.max_file_mib" in message, message
    assert re.search(r"runtime/pyodide-\w+/pyodide\.asm\.wasm \(\d+\.\d MiB\)", message)
    assert "index.html" not in message
    assert not out.exists()
