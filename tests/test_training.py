"""The build's training cache: same app files and libraries, same estimator, no second training."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from staticml.settings.parsers import entry_point
from staticml.training import PORTABLE_KERNELS, cached_training, training_environment

TRAIN = """
import os
from pathlib import Path

from sklearn.linear_model import LogisticRegression


def train():
    with open(os.environ["STATICML_TEST_TRAININGS"], "a") as log:
        log.write("trained\\n")
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
"""


def training_app(tmp_path: Path, monkeypatch) -> tuple[Path, Path, Path]:
    """(app folder with TRAIN, cache folder, log with a line per training)."""
    app, cache, log = tmp_path / "app", tmp_path / "cache", tmp_path / "trainings.txt"
    app.mkdir()
    (app / "train.py").write_text(TRAIN)
    monkeypatch.setitem(os.environ, "STATICML_TEST_TRAININGS", str(log))
    return app, cache, log


def test_a_rebuild_reuses_the_training_until_an_app_file_changes(tmp_path, monkeypatch):
    app, cache, log = training_app(tmp_path, monkeypatch)
    entry = entry_point("train:train")

    first = cached_training(entry, app, cache)
    again = cached_training(entry, app, cache)
    assert log.read_text() == "trained\n"
    assert again.coef_.tolist() == first.coef_.tolist()
    assert [p.suffix for p in (cache / "training").iterdir()] == [".joblib"]

    (app / "train.py").write_text(TRAIN + "\n# changed\n")
    cached_training(entry, app, cache)
    assert log.read_text() == "trained\ntrained\n"


def test_files_python_ignores_do_not_count(tmp_path, monkeypatch):
    app, cache, log = training_app(tmp_path, monkeypatch)
    entry = entry_point("train:train")
    cached_training(entry, app, cache)
    (app / "__pycache__").mkdir(exist_ok=True)
    (app / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"changed")
    (app / ".hidden").write_text("editor state")
    cached_training(entry, app, cache)
    assert Path(log).read_text() == "trained\n"


def test_the_child_gets_none_of_the_callers_math_settings(monkeypatch):
    monkeypatch.setitem(os.environ, "OPENBLAS_CORETYPE", "Sandybridge")
    monkeypatch.setitem(os.environ, "OMP_NUM_THREADS", "8")
    monkeypatch.setitem(os.environ, "NPY_DISABLE_CPU_FEATURES", "AVX512F")
    monkeypatch.setitem(os.environ, "PYTHONHASHSEED", "random")
    monkeypatch.setitem(os.environ, "STATICML_TEST_KEPT", "yes")

    on_avx2 = training_environment(frozenset({"avx2", "fma", "sse2"}))
    without = training_environment(frozenset({"sse2"}))

    assert on_avx2["STATICML_TEST_KEPT"] == "yes", "the app's own variables reach its training"
    assert on_avx2["OMP_NUM_THREADS"] == "1" and on_avx2["PYTHONHASHSEED"] == "0"
    assert "NPY_DISABLE_CPU_FEATURES" not in on_avx2
    if platform.machine().lower() in {"x86_64", "amd64"}:
        assert on_avx2["OPENBLAS_CORETYPE"] == PORTABLE_KERNELS
    assert "OPENBLAS_CORETYPE" not in without, "no kernel is forced on a processor that lacks it"
