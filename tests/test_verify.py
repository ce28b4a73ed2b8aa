"""`staticml build --verify`, on a small app that uses a dependency and its own page template."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.models import linear_onnx

pytestmark = pytest.mark.browser


def small_app(root: Path) -> Path:
    """An app with a dependency and its own page; a quick brotli (`build.brotli_quality`),
    since nothing here is about the bytes served."""
    app = root / "app"
    (app / "scorer").mkdir(parents=True)
    linear_onnx(app / "model.onnx", features=2)
    (app / "scorer" / "__init__.py").write_text("")
    (app / "scorer" / "features.py").write_text(
        textwrap.dedent(
            """
            import six

            def features(record):
                # six is a pure-Python dependency: it must be shipped and importable in Pyodide.
                assert six.PY3
                return [record["a"], float(len(six.ensure_str(record["word"])))]
            """
        )
    )
    (app / "samples.json").write_text(
        json.dumps([{"a": 1.5, "word": "hello"}, {"a": -2, "word": "staticml"}])
    )
    (app / "page.html").write_text(
        '{% extends "index.html" %}{% block header %}<h1 id="custom">Custom page for {{ app.title }}</h1>{% endblock %}'
    )
    (app / "staticml.toml").write_text(
        textwrap.dedent(
            """
            [app]
            name = "small"
            title = "Small"
            [model]
            file = "model.onnx"
            [output]
            target = "sum"
            [preprocess]
            entry = "scorer.features:features"
            dependencies = ["six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"]
            [samples]
            file = "samples.json"
            [page]
            template = "page.html"
            [build]
            brotli_quality = 5
            [[input]]
            name = "a"
            type = "number"
            [[input]]
            name = "word"
            type = "text"
            max_length = 20
            """
        )
    )
    return app


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    app = small_app(root)
    completed = subprocess.run(
        [sys.executable, "-m", "staticml", "build", str(app), "-o", str(root / "dist"), "--verify"],
        capture_output=True,
        text=True,
        check=False,
    )
    return root / "dist", completed


def test_verify_runs_the_build_in_chromium(verified):
    site, completed = verified
    assert completed.returncode == 0, completed.stderr
    assert "Verified in Chromium" in completed.stderr
    assert "2 sample(s) match CPython" in completed.stderr
    manifest = json.loads((site / "bundle.json").read_text())
    assert any(p.endswith("six-1.16.0-py2.py3-none-any.whl") for p in manifest["assets"])


def test_the_app_template_replaces_the_page(verified):
    site, _ = verified
    html = (site / "index.html").read_text()
    assert '<h1 id="custom">Custom page for Small</h1>' in html
    assert 'id="field-word"' in html and "<textarea" in html


def test_verify_catches_a_browser_that_disagrees(verified, tmp_path):
    site, _ = verified
    copy = tmp_path / "dist"
    subprocess.run(["cp", "-r", str(site), str(copy)], check=True)
    manifest = json.loads((copy / "bundle.json").read_text())
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "samples"]
    data = json.loads((copy / path).read_text())
    data["samples"][1]["expected"]["value"] += 1.0
    (copy / path).write_text(json.dumps(data))
    for variant in (".br", ".gz"):  # served in preference to the file when present
        (copy / (path + variant)).unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, "-m", "staticml", "verify", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "Error: the browser's predictions differ from the CPython reference:" in completed.stderr
    assert "sample 2: differs from CPython by" in completed.stderr
