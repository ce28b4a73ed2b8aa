"""`pip install staticml` is enough: the wheel `python -m build` makes, installed into a fresh
virtualenv in a temporary folder (no checkout on sys.path, no node_modules, an empty HOME),
builds an app with `--verify`, serves it, and the page predicts.

One slow test, on purpose: it installs staticml's dependencies from PyPI (through pip's own
cache, kept outside the empty HOME) and downloads the browser runtimes from the real npm
registry, as a user's first build does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT, free_port, wait_for_http

pytestmark = [pytest.mark.wheel, pytest.mark.browser, pytest.mark.timeout(2400)]

RECORD = {"sepal_length": "5.1", "sepal_width": "3.5", "petal_length": "1.4", "petal_width": "0.2"}


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, (
        f"{' '.join(command)} failed ({completed.returncode}):\n"
        f"{completed.stdout[-4000:]}\n{completed.stderr[-8000:]}"
    )
    return completed


def _fresh_environment(root: Path, venv: Path) -> dict[str, str]:
    """This process's environment without anything that points at the checkout or a cache."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "STATICML_NODE_MODULES", "STATICML_CACHE_DIR"}
    drop |= {"STATICML_CHROMIUM", "STATICML_NPM_REGISTRY", "PLAYWRIGHT_BROWSERS_PATH"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    (root / "home").mkdir()
    env |= {"HOME": str(root / "home"), "PIP_CACHE_DIR": pip_cache}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _iris_app(folder: Path, python: Path, env: dict[str, str]) -> Path:
    """The README's iris walk-through, made with the installed staticml's own Python.

    MERGE: replace with `staticml new --model` (branch h-g) once it lands.
    """
    app = folder / "iris"
    (app / "iris_app").mkdir(parents=True)
    script = (
        "import joblib\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "data = load_iris()\n"
        "model = LogisticRegression(max_iter=500).fit(data.data, data.target)\n"
        "joblib.dump(model, 'model.joblib')\n"
    )
    _run([str(python), "-c", script], app, env)
    (app / "iris_app" / "__init__.py").write_text("")
    (app / "iris_app" / "features.py").write_text(
        'ORDER = ("sepal_length", "sepal_width", "petal_length", "petal_width")\n\n'
        "def features(record):\n    return [record[name] for name in ORDER]\n"
    )
    fields = "".join(
        f'[[input]]\nname = "{name}"\ntype = "number"\nmin = 0\nmax = 10\n\n' for name in RECORD
    )
    (app / "staticml.toml").write_text(
        textwrap.dedent(
            """\
            [app]
            name = "iris"
            title = "Iris species"

            [model]
            file = "model.joblib"

            [output]
            classes = ["setosa", "versicolor", "virginica"]

            [preprocess]
            entry = "iris_app.features:features"

            [samples]
            file = "samples.csv"

            # Not the README's: a quick brotli (the test is about installing, not bytes).
            [build]
            brotli_quality = 5

            """
        )
        + fields
    )
    (app / "samples.csv").write_text(
        ",".join(RECORD) + "\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", encoding="utf-8"
    )
    return app


def test_the_wheel_alone_builds_verifies_and_serves_an_app(tmp_path, open_browser):
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    env = _fresh_environment(tmp_path, venv)
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], tmp_path, env)
    [wheel] = dist.glob("staticml-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "staticml/_site/index.html" in names and "staticml/_site/wasm/worker.mjs" in names
    assert not [n for n in names if "node_modules" in n or n.endswith((".wasm", ".tgz"))]

    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt")]
    _run([*pip, str(wheel)], tmp_path, env)
    work.mkdir()
    where = _run([str(python), "-c", "import staticml; print(staticml.__file__)"], work, env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    assert not (work / "node_modules").exists()

    _iris_app(work, python, env)
    staticml = str(venv / "bin" / "staticml")
    built = _run([staticml, "build", "iris", "-o", "iris-site", "--verify"], work, env)
    log = " ".join(built.stderr.split())
    assert "Downloading pyodide 314.0.7" in log and "Downloading onnxruntime-web 1.30.0" in log
    assert "2 sample(s) match CPython" in log, log[-2000:]
    cache = tmp_path / "home" / ".cache" / "staticml" / "runtimes"
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == [
        "onnxruntime-web-1.30.0",
        "pyodide-314.0.7",
    ]
    listed = _run([str(python), "-m", "staticml", "runtimes"], work, env).stdout
    assert f"cached        {cache / 'pyodide-314.0.7'}" in listed

    port = free_port()
    server = subprocess.Popen(
        [staticml, "serve", "iris-site", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url + "bundle.json", server)
        watched = open_browser(url)
        page = watched.new_page()
        page.goto(url)
        page.evaluate("window.staticml.ready")
        for name, value in RECORD.items():
            page.fill(f"#field-{name}", value)
        page.click("#predict")
        page.locator("#bars li").first.wait_for()
        assert page.text_content("#result-label") == "setosa"
        watched.assert_clean()
    finally:
        server.terminate()
        server.wait(timeout=10)
