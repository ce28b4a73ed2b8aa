from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from io import BytesIO

import pytest

from staticml.config import load_config
from staticml.errors import BuildError
from staticml.packaging import make_wheel, runtime_wheel
from staticml.stages.wheels import app_wheel, pack_wheels
from tests.support import APP_DIR


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_app_wheel_holds_the_preprocessing_package_only():
    wheel = app_wheel(load_config(APP_DIR))
    assert wheel.filename == "digits-0.0.0-py3-none-any.whl"
    names = set(entries(wheel.data))
    assert {"digits/__init__.py", "digits/preprocess.py"} <= names
    assert not any("train" in n or "__pycache__" in n for n in names)


def test_runtime_wheel_ships_the_runtime_with_a_stub_package():
    wheel = runtime_wheel()
    files = entries(wheel.data)
    assert "staticml/runtime/engine.py" in files
    assert b"__version__" in files["staticml/__init__.py"]
    assert not any(n.startswith(("staticml/stages", "staticml/cli")) for n in files)


def test_wheels_are_reproducible():
    config = load_config(APP_DIR)
    first, second = pack_wheels(config), pack_wheels(config)
    assert first.app.data == second.app.data and first.runtime.data == second.runtime.data


def test_record_lists_every_file_with_its_hash():
    data = make_wheel("demo", "1.0", {"demo/__init__.py": b"x = 1\n"})
    files = entries(data)
    record = files["demo-1.0.dist-info/RECORD"].decode().splitlines()
    for line in record:
        path, digest, size = line.split(",")
        if path.endswith("RECORD"):
            assert digest == size == ""
            continue
        expected = (
            base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=").decode()
        )
        assert digest == f"sha256={expected}" and int(size) == len(files[path])


def test_pip_installs_the_app_wheel(tmp_path):
    wheel = app_wheel(load_config(APP_DIR))
    path = tmp_path / wheel.filename
    path.write_bytes(wheel.data)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "digits" / "preprocess.py").is_file()


def test_a_missing_preprocessing_package_is_explained(tmp_path):
    config = load_config(APP_DIR)
    moved = type(config)(**{**config.__dict__, "app_dir": tmp_path})
    with pytest.raises(
        BuildError,
        match=r"preprocess.entry is digits.preprocess:features, but neither .*digits/ nor .*digits.py exists",
    ):
        app_wheel(moved)
