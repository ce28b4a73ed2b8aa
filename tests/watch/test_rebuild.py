"""A rebuild in one process, as `staticml serve --watch` makes them: what a preprocessing edit
did not change comes from the cache, what it changed is made again."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import jinja2
import pytest

from staticml import hashing
from staticml.config import load_config
from staticml.scaffold import new_app
from staticml.stages import browser, build_app, snapshot

BODY = "    return [float(record[name]) for name in FEATURES]\n"
RENAMED = "    values = [float(record[name]) for name in FEATURES]\n    return values\n"
SCALED = "    return [float(record[name]) * 1.001 for name in FEATURES]\n"


def counting(monkeypatch, calls: Counter, owner, name: str) -> None:
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def app_wheel_source(site: Path) -> str:
    [wheel] = site.glob("wheels/*/iris_app-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("iris_app/preprocess.py").decode()


def inode(site: Path, pattern: str) -> int:
    [path] = site.glob(pattern)
    return path.stat().st_ino


@pytest.mark.browser
def test_a_preprocessing_edit_reuses_every_stage_it_did_not_change(tmp_path, monkeypatch):
    app = new_app(tmp_path / "iris").folder
    source = app / "iris_app" / "preprocess.py"
    original = source.read_text()
    assert BODY in original
    site = tmp_path / "site"
    first = build_app(load_config(app), site)
    snapshot_inode = inode(site, "runtime/python-*/python.part1of2.snapshot")

    calls: Counter = Counter()
    counting(monkeypatch, calls, browser, "_run_in_browser")
    counting(monkeypatch, calls, snapshot, "_make")
    counting(monkeypatch, calls, jinja2.Environment, "compile")
    digests = len(hashing._file_digests)

    source.write_text(original.replace(BODY, RENAMED))
    renamed = build_app(load_config(app), site)
    assert "values = [float" in app_wheel_source(site)
    assert renamed.release != first.release
    assert calls == Counter()  # no measurement in Chromium, no snapshot, no template compiled
    assert len(hashing._file_digests) == digests  # no runtime or site file hashed again
    assert inode(site, "runtime/python-*/python.part1of2.snapshot") == snapshot_inode  # linked

    source.write_text(original.replace(BODY, SCALED))
    scaled = build_app(load_config(app), site)
    assert "* 1.001" in app_wheel_source(site)
    assert calls == Counter({"_run_in_browser": 1})  # new feature values: measured again
    assert scaled.release not in (first.release, renamed.release)
