"""`staticml serve --watch`: a saved edit reaches the open page, a failed build shows its error
there while the last good build stays served, and fixing it reloads the page again."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from staticml.scaffold import new_app
from tests.support import free_port, wait_for_http

pytestmark = pytest.mark.browser
PREPROCESS = "iris_app/preprocess.py"
SECONDS = 300  # the first build, cold, on a loaded machine
VIRGINICA = "    return [6.3, 3.3, 6.0, 2.5]  # every record as one virginica\n"


@contextlib.contextmanager
def watching(app: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "staticml", "serve", "--watch", str(app), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_http(url + "bundle.json", process, seconds=SECONDS)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}\nserver output:\n{log.read()}") from exc
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


def predicted(page, sample: int = 0) -> str:
    """What the page shows for a shipped sample, predicted in the browser now."""
    from playwright.sync_api import expect

    page.evaluate("window.staticml.ready")
    label = page.locator("#result-label")
    page.evaluate("document.getElementById('result-label').textContent = '–'")
    page.locator("#sample-list button").nth(sample).click()
    expect(label).not_to_have_text("–", timeout=SECONDS * 1000)
    return label.inner_text()


def reloaded(page, edit) -> None:
    """`edit()`, then wait for the page to reload itself (a polled function would be
    evaluated in the new page, whose CSP refuses eval)."""
    page.evaluate("window.beforeTheEdit = true")
    with page.expect_navigation(timeout=SECONDS * 1000):
        edit()
    assert page.evaluate("window.beforeTheEdit") is None


def test_an_edit_reloads_the_page_and_a_failed_build_shows_its_error(tmp_path, open_browser):
    app = new_app(tmp_path / "iris").folder
    source = app / PREPROCESS
    original = source.read_text()
    with watching(app) as (url, _):
        watched = open_browser(url)
        page = watched.new_page()
        page.set_default_timeout(SECONDS * 1000)
        page.goto(url)
        assert predicted(page) == "setosa"

        body = original.split("def features", 1)
        edited = body[0] + "def features(record):\n" + VIRGINICA + _rest(body[1])
        reloaded(page, lambda: source.write_text(edited))
        assert predicted(page) == "virginica"
        assert page.locator("#staticml-build-error").count() == 0

        page.evaluate("window.beforeTheBrokenEdit = true")
        source.write_text(original.replace("def features(", "def features(("))
        error = page.locator("#staticml-build-error")
        error.wait_for(state="visible")
        assert "The last build failed" in error.inner_text()
        assert "preprocess.py" in error.inner_text()
        assert page.evaluate("window.beforeTheBrokenEdit") is True  # not reloaded
        assert predicted(page) == "virginica"  # the last good build still answers

        reloaded(page, lambda: source.write_text(original))
        assert page.evaluate("window.beforeTheBrokenEdit") is None
        assert predicted(page) == "setosa"
        assert page.locator("#staticml-build-error").count() == 0
        watched.context.close()  # before the server stops, so its event stream ends quietly


def _rest(after_def: str) -> str:
    """The module after `features`' body: from the next top-level definition on."""
    return after_def[after_def.index("\n\ndef ") :]
