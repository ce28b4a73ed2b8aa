"""Finding Chromium without configuration: the order of `headless.chromium_path`, on a PATH
and a home folder made for each test (the browsers are empty executables: found, not run)."""

from __future__ import annotations

import pytest

from staticml import headless
from staticml.errors import BuildError
from staticml.headless import CHROMIUM_ENV, chromium_path


def _executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def bare(tmp_path, monkeypatch):
    """A system with no browser at all: an empty PATH and home, no install paths."""
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "appdata"))
    monkeypatch.setattr(
        headless, "BROWSERS", tuple((what, names, ()) for what, names, _ in headless.BROWSERS)
    )
    return tmp_path


def test_debians_chromium_comes_before_google_chrome_before_playwrights(bare):
    playwright = _executable(
        bare / "home" / ".cache" / "ms-playwright" / "chromium-1200" / "chrome-linux64" / "chrome"
    )
    assert chromium_path("--verify", BuildError) == playwright
    chrome = _executable(bare / "bin" / "google-chrome")
    assert chromium_path("--verify", BuildError) == chrome
    chromium = _executable(bare / "bin" / "chromium")
    assert chromium_path("--verify", BuildError) == chromium


def test_the_environment_variable_comes_first_and_must_name_a_file(bare, monkeypatch):
    _executable(bare / "bin" / "chromium")
    mine = _executable(bare / "opt" / "my-chromium")
    monkeypatch.setenv(CHROMIUM_ENV, mine)
    assert chromium_path("--verify", BuildError) == mine
    monkeypatch.setenv(CHROMIUM_ENV, str(bare / "nothing"))
    with pytest.raises(
        BuildError,
        match=rf"--verify needs Chromium, but {CHROMIUM_ENV} is .*nothing, which is not a file",
    ):
        chromium_path("--verify", BuildError)


def test_the_newest_playwright_chromium_is_used_before_its_headless_shell(bare, monkeypatch):
    browsers = bare / "browsers"
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(browsers))
    _executable(browsers / "chromium_headless_shell-1300" / "chrome-linux" / "headless_shell")
    _executable(browsers / "chromium-1100" / "chrome-linux" / "chrome")
    newest = _executable(browsers / "chromium-1200" / "chrome-linux" / "chrome")
    assert chromium_path("--verify", BuildError) == newest


def test_no_browser_anywhere_says_how_to_get_one(bare):
    with pytest.raises(BuildError) as missing:
        chromium_path("--verify", BuildError)
    message = str(missing.value)
    assert message.startswith("--verify needs Chromium or Google Chrome, and none was found")
    assert str(bare / "home" / ".cache" / "ms-playwright") in message
    for way in ("apt-get install chromium", "Google Chrome", CHROMIUM_ENV):
        assert way in message
    assert "build with --no-browser" in message
