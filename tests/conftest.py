"""Shared fixtures (and the pytest hook that orders the tests): one real build of the demo, a
real server, and a real Chromium. The helpers they use are in tests/support/.

The demo is built once per session through `python build.py` (the README's path) and served
by `staticml serve` in a subprocess on a free port of 127.0.0.1. Browser tests get pages whose
every request is checked to stay on that origin and whose console must stay free of errors:
after every test, each browser context it opened is checked (`no_browser_errors`), so a
console error, an uncaught exception or a Content Security Policy violation (the page reports
its own and its worker's in the console) fails the test that caused it, unless the test said
it expects exactly that error (`Watched.expect_errors`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import APP_DIR, free_port
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WATCHED, Watched, watch
from tests.support.demo import AGAIN, BuiltSite, DemoBuilds
from tests.support.postgres import postgres_cluster, postgres_database
from tests.support.serving import Server, serve_subprocess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need the demo site run after the others (in their own order), so that
    its builds (`DemoBuilds`) run beside the tests that need none."""
    items.sort(key=lambda item: "built_site" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def demo_builds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoBuilds | None]:
    """Starts the demo's builds with the session when any test needs `built_site`."""
    items = request.session.items
    if not any("built_site" in getattr(item, "fixturenames", ()) for item in items):
        yield None
        return
    builds = DemoBuilds(tmp_path_factory, again=any(item.name == AGAIN for item in items))
    try:
        yield builds
    finally:
        builds.stop()


@pytest.fixture(scope="session")
def built_site(demo_builds: DemoBuilds | None) -> BuiltSite:
    """The demo app built by `python build.py -o DIR`, as the README runs it, from a cold cache
    (trained and snapshotted anew: see `cold_cache`), in the background since the session
    started (`DemoBuilds`)."""
    assert demo_builds is not None, "demo_builds starts the build for every test that uses this"
    output = demo_builds.first.result()
    again = None if demo_builds.other is None else (demo_builds.other / "dist", demo_builds.second)
    return BuiltSite(demo_builds.folder / "dist", output, again=again)


@pytest.fixture(scope="session")
def demo_model():
    """The demo's model, trained and converted in-process (the same as the build's)."""
    from staticml.config import load_config
    from staticml.stages.model import load_model

    return load_model(load_config(APP_DIR))


@pytest.fixture(scope="session")
def server(built_site: BuiltSite) -> Iterator[Server]:
    with serve_subprocess(built_site.path) as running:
        yield running


# --- browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run ./dev test, which installs Debian's chromium"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def no_browser_errors() -> Iterator[None]:
    """Fails a test after which any browser context it opened saw an unexpected console error,
    an uncaught exception or a request leaving its origin."""
    before = len(WATCHED)
    yield
    for watched in WATCHED[before:]:
        watched.assert_clean()


@pytest.fixture
def open_browser(browser) -> Iterator[Callable[..., Watched]]:
    """Factory: a fresh watched context for an origin; closed (not asserted) afterwards."""
    contexts: list[Watched] = []

    def make(origin: str, **options) -> Watched:
        watched = watch(browser, origin, **options)
        contexts.append(watched)
        return watched

    yield make
    for watched in contexts:
        watched.context.close()


@pytest.fixture(scope="module")
def ready_page(browser, server: Server):
    """One page with the runtime booted, shared by a module's read-only tests; checked clean at the end."""
    watched = watch(browser, server.url)
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    yield page
    watched.assert_clean()
    watched.context.close()


@pytest.fixture
def site_copy(built_site: BuiltSite, tmp_path: Path) -> Path:
    """A private copy of the built site that a test may damage."""
    target = tmp_path / "dist"
    shutil.copytree(built_site.path, target)
    return target


# --- collector --------------------------------------------------------------------------------

settings.register_profile("staticml", deadline=None, database=None, print_blob=True)
settings.load_profile("staticml")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free port of 127.0.0.1; yields its admin URL."""
    # fsync off: the tests kill collectors, never this server, so its durability is not tested.
    with postgres_cluster(fsync=False) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beacon.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


# --- rollout ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wine_releases(tmp_path_factory: pytest.TempPathFactory):
    """Two builds of the wine example (tests/support/rollout.py), sending to one collector port."""
    from tests.support.rollout import Releases, build_release

    root, port = tmp_path_factory.mktemp("releases"), free_port()
    a = build_release(root, "A", port, swap=False)
    return Releases(a, build_release(root, "B", port, swap=True), port)


@pytest.fixture
def site(tmp_path: Path, wine_releases):
    """A fresh site holding both wine releases (A stable, B added)."""
    from staticml.rollout import Site

    site = Site(tmp_path / "site")
    site.add(wine_releases.a)
    site.add(wine_releases.b)
    return site
