"""`pip install staticml` is enough: the wheel `python -m build` makes, installed into a fresh
virtualenv in a temporary folder (no checkout on sys.path, no node_modules, an empty HOME),
writes an app with `staticml new --model`, builds it with `--verify`, serves it, and the page predicts.

One slow test, on purpose: it installs staticml's dependencies from PyPI (through pip's own
cache, kept outside the empty HOME) and downloads the browser runtimes from the real npm
registry, as a user's first build does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT, free_port, wait_for_http

pytestmark = [pytest.mark.wheel, pytest.mark.browser, pytest.mark.timeout(2400)]

RECORD = {"x0": "5.1", "x1": "3.5", "x2": "1.4", "x3": "0.2"}


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


def _iris_app(folder: Path, python: Path, staticml: str, env: dict[str, str]) -> Path:
    """A newcomer's first app: an iris model saved with joblib, then `staticml new --model`."""
    script = (
        "import joblib\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "data = load_iris()\n"
        "labels = data.target_names[data.target]\n"
        "model = LogisticRegression(max_iter=500).fit(data.data, labels)\n"
        "joblib.dump(model, 'model.joblib')\n"
    )
    _run([str(python), "-c", script], folder, env)
    made = _run([staticml, "new", "iris", "--model", "model.joblib"], folder, env)
    assert "Next: staticml serve --watch" in made.stdout, made.stdout
    return folder / "iris"


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

    staticml = str(venv / "bin" / "staticml")
    _iris_app(work, python, staticml, env)
    built = _run([staticml, "build", "iris", "-o", "iris-site", "--verify"], work, env)
    log = " ".join(built.stderr.split())
    assert "Downloading pyodide 314.0.7" in log and "Downloading onnxruntime-web 1.30.0" in log
    assert "3 sample(s) match CPython" in log, log[-2000:]
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
