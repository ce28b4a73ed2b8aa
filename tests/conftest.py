"""Shared fixtures: one real build of the demo, a real server, and a real Chromium.

The demo is built once per session through `python build.py` (the README's path) and served
by `staticml serve` in a subprocess on a free port of 127.0.0.1. Browser tests get pages whose
every request is checked to stay on that origin and whose console must stay free of errors:
after every test, each browser context it opened is checked (`no_browser_errors`), so a
console error, an uncaught exception or a Content Security Policy violation (the page reports
its own and its worker's in the console) fails the test that caused it, unless the test said
it expects exactly that error (`Watched.expect_errors`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from hypothesis import settings

from staticml.headless import CHROMIUM_ARGS as VERIFY_CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
CHROMIUM = os.environ.get("STATICML_CHROMIUM", "/usr/bin/chromium")
# The flags `staticml build --verify` uses, including a dead proxy as a second guard besides
# routing: anything not on loopback goes nowhere.
CHROMIUM_ARGS = list(VERIFY_CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@dataclass
class BuiltSite:
    path: Path
    build_output: str
    # The reproducibility test's second cold build: its folder, and what it printed once done.
    again: tuple[Path, concurrent.futures.Future[str]] | None = None


# Builds of the demo say they were built at this time (the reproducible-builds convention), so
# that two builds can be compared file by file.
BUILD_EPOCH = "1764547200"


def user_cache() -> Path:
    from staticml.cache import default_cache_dir

    return default_cache_dir()


def cold_cache(folder: Path) -> Path:
    """An empty build cache but for the precompressed files of the user's cache: brotli at its
    highest quality is a slow, pure function of a file's bytes, while training and the Python
    snapshot, which a cold build must prove it makes alike, start from nothing."""
    cache = folder / "cache"
    cache.mkdir()
    for entry in user_cache().glob("[0-9a-f][0-9a-f]"):
        shutil.copytree(entry, cache / entry.name, copy_function=_link_or_copy)
    return cache


def keep_in_user_cache(cache: Path) -> None:
    """What a cold build made, kept in the user's cache for the tests (and builds) after it."""
    user_cache().mkdir(parents=True, exist_ok=True)
    shutil.copytree(cache, user_cache(), copy_function=_link_or_copy, dirs_exist_ok=True)


def _link_or_copy(source: str, target: str) -> None:
    if os.path.exists(target):
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass
class DemoBuild:
    """`python build.py -o OUT` running in a fresh process with its own cache."""

    process: subprocess.Popen
    log: IO[str]

    def output(self) -> str:
        """Once the build is done: what it printed (it must have succeeded)."""
        self.process.wait()
        self.log.seek(0)
        printed = self.log.read()
        self.log.close()
        assert self.process.returncode == 0, printed
        return printed


def start_demo_build(out: Path, cache: Path, env: dict[str, str] | None = None) -> DemoBuild:
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by DemoBuild.output)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "-o", str(out)],
        cwd=ROOT,
        env={
            **os.environ,
            **(env or {}),
            "STATICML_CACHE_DIR": str(cache),
            "SOURCE_DATE_EPOCH": BUILD_EPOCH,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return DemoBuild(process, log)


# The reproducibility test's build asks the math libraries for other kernels and threads.
PERTURBED = {"OPENBLAS_CORETYPE": "Sandybridge", "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "7"}
AGAIN = "test_a_second_cold_build_is_the_same_site"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need the demo site run after the others (in their own order), so that
    its builds (`DemoBuilds`) run beside the tests that need none."""
    items.sort(key=lambda item: "built_site" in getattr(item, "fixturenames", ()))


class DemoBuilds:
    """The session's cold builds of the demo, one after the other in a background thread,
    started with the session:

    1. what a cold build may take from the user's cache (`cold_cache`), made here, in this
       process, where the suite's own builds share it: the runtimes and the Python snapshot
       brotli-compressed at the demo's quality;
    2. `built_site`'s build, `python build.py` from a cold cache;
    3. when the session holds `test_build.py`'s reproducibility test, its second cold build,
       with a burner keeping a core busy meanwhile.

    `first` and `second` hold what each build printed once it is done.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, again: bool) -> None:
        self.folder = tmp_path_factory.mktemp("site")
        self.other = tmp_path_factory.mktemp("again") if again else None
        self.first: concurrent.futures.Future[str] = concurrent.futures.Future()
        self.second: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._running: DemoBuild | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-builds", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for future, make in ((self.first, self._first), (self.second, self._second)):
            try:
                future.set_result(make())
            except BaseException as exc:
                future.set_exception(exc)
                if future is self.first:  # the second build would fail the same way
                    self.second.set_exception(exc)
                    return

    def _first(self) -> str:
        precompress_shared_runtimes()
        cache = cold_cache(self.folder)
        output = self._build(self.folder / "dist", cache)
        keep_in_user_cache(cache)
        return output

    def _second(self) -> str:
        if self.other is None:
            return ""
        stop_burning = start_burner(self.other)
        try:
            return self._build(self.other / "dist", cold_cache(self.other), PERTURBED)
        finally:
            stop_burning()

    def _build(self, out: Path, cache: Path, env: dict[str, str] | None = None) -> str:
        if self._stopped.is_set():
            raise RuntimeError("the session ended before this build started")
        self._running = start_demo_build(out, cache, env)
        return self._running.output()

    def stop(self) -> None:
        self._stopped.set()
        if self._running is not None and self._running.process.poll() is None:
            self._running.process.kill()
        self._thread.join(timeout=120)


def precompress_shared_runtimes() -> None:
    """The runtimes and the Python snapshot (the same for every app without dependencies),
    brotli-compressed at the demo's quality into the user's cache, as a build would."""
    from staticml.config import load_config
    from staticml.runtimes import default_node_modules, locate_runtimes
    from staticml.stages import assets as make
    from staticml.stages.precompress import precompress_ahead
    from staticml.stages.snapshot import make_snapshot
    from staticml.stages.wheels import pack_wheels

    config = load_config(APP_DIR)
    runtimes, cache = locate_runtimes(default_node_modules()), user_cache()
    snapshot = make_snapshot(pack_wheels(config), runtimes.pyodide, cache)
    shared = [
        *(asset for runtime in runtimes.all() for asset in make.runtime_assets(runtime)),
        make.runtime_file("python", "python.snapshot", snapshot, "snapshot"),
    ]
    precompress_ahead(shared, config.build.brotli_quality, cache).result()


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


BURN = """
import sys, time
from pathlib import Path

stop, deadline = Path(sys.argv[1]), time.monotonic() + 900
while not stop.exists() and time.monotonic() < deadline:
    sum(i * i for i in range(10_000))
"""


def start_burner(folder: Path) -> Callable[[], None]:
    """Another process keeps one core busy until the returned function is called (or for 15
    minutes at most)."""
    stop = folder / "stop-burning"
    burner = subprocess.Popen([sys.executable, "-c", BURN, str(stop)])

    def stopped() -> None:
        stop.touch()
        burner.wait()

    return stopped


@pytest.fixture(scope="session")
def demo_model():
    """The demo's model, trained and converted in-process (the same as the build's)."""
    from staticml.config import load_config
    from staticml.stages.model import load_model

    return load_model(load_config(APP_DIR))


@dataclass
class Server:
    url: str
    process: subprocess.Popen | None = None
    log: IO[str] | None = None

    def output(self) -> str:
        """What the server process printed so far (all of it once the process has ended)."""
        assert self.log is not None, "only a server in a subprocess keeps its output"
        self.log.seek(0)
        return self.log.read()


@contextlib.contextmanager
def serve_subprocess(site: Path, ready: str = "bundle.json") -> Iterator[Server]:
    """`staticml serve SITE` in a child process on a free port, its output kept for failures."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "staticml", "serve", str(site), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_http(url + ready, process)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}\nserver output:\n{log.read()}") from exc
            yield Server(url, process, log)
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app, ready: str = "bundle.json", port: int | None = None) -> Iterator[Server]:
    """An ASGI app on a real uvicorn server in this process (for deliberately odd servers),
    on `port` (else a free one), once it answers `ready`."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url + ready)
        yield Server(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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


@dataclass
class Watched:
    """A browser context whose traffic and console are recorded for assertions."""

    context: object
    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_errors(self, *patterns: str) -> None:
        """Console errors matching one of these regular expressions are part of the test."""
        self.expected += [re.compile(pattern) for pattern in patterns]

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def new_page(self):
        page = self.context.new_page()
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        return page

    def assert_clean(self) -> None:
        assert self.foreign == [], f"requests left the origin {self.origin}: {self.foreign}"
        unexpected = self.unexpected_errors()
        assert unexpected == [], "console errors:\n" + "\n".join(unexpected)


# Every watched context of the session, in order, for the check after each test.
_WATCHED: list[Watched] = []


@pytest.fixture(autouse=True)
def no_browser_errors() -> Iterator[None]:
    """Fails a test after which any browser context it opened saw an unexpected console error,
    an uncaught exception or a request leaving its origin."""
    before = len(_WATCHED)
    yield
    for watched in _WATCHED[before:]:
        watched.assert_clean()


def watch(browser, origin: str, allowed: tuple[str, ...] = (), **options) -> Watched:
    """A context whose requests may go only to `origin` (and the `allowed` URL prefixes, such
    as the collector a monitored site is configured with); anything else is kept as foreign.

    Requests are observed, not intercepted: an intercepted request waits for the driver, and
    when its page closes meanwhile Chromium drops it, which loses the beacon a page sends
    as it is closed."""
    context = browser.new_context(**options)
    watched = Watched(context, origin)
    _WATCHED.append(watched)
    permitted = (origin, "data:", "blob:", *allowed)

    def seen(request) -> None:
        watched.requests.append(request.url)
        if not request.url.startswith(permitted):
            watched.foreign.append(request.url)

    context.on("request", seen)
    return watched


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


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: as root, run PostgreSQL's tools as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free port of 127.0.0.1; yields its admin URL."""
    # fsync off: the tests kill collectors, never this server, so its durability is not tested.
    with postgres_cluster(fsync=False) as url:
        yield url


@contextlib.contextmanager
def postgres_cluster(fsync: bool) -> Iterator[str]:
    """A PostgreSQL cluster of its own in a temporary folder, removed afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL not found in /usr/lib/postgresql: run ./dev test, which installs it"
        )
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="staticml-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run(
        _as_postgres([*pg_ctl, "-w", "-o", options, "start"]), check=True, capture_output=True
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([*pg_ctl, "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the test cluster, dropped afterwards."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextlib.contextmanager
def database_down(server_url: str, database_url: str) -> Iterator[None]:
    """The database of `database_url` is unreachable (its sessions ended, its name changed)
    inside the block, and back afterwards, on the same cluster."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        admin.execute(f"ALTER DATABASE {name} RENAME TO {name}_down")
    try:
        yield
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name}_down RENAME TO {name}")
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beacon.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


# --- the drift collector ----------------------------------------------------------------


class Beacon:
    def __init__(self, url: str, process: subprocess.Popen, log) -> None:
        self.url, self.process, self._log = url, process, log

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()


@contextlib.contextmanager
def beacon(
    bundle: Path, db: str, *extra: str, port: int | None = None, max_files: int | None = None
) -> Iterator[Beacon]:
    """`staticml beacon` in a child process (on `port`, else a free one), its output kept;
    with `max_files`, it may hold at most that many file descriptors (RLIMIT_NOFILE)."""
    port = port or free_port()
    command = [sys.executable, "-m", "staticml", "beacon", "--bundle", str(bundle)]
    command += ["--db", db, "--port", str(port), *extra]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_file_limit(max_files)
        )
        running = Beacon(f"http://127.0.0.1:{port}/", process, log)
        try:
            try:
                wait_for_http(running.url + "healthz", process)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\ncollector output:\n{running.output()}") from exc
            yield running
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=10)


def _file_limit(files: int | None) -> Callable[[], None] | None:
    if files is None:
        return None

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    return limit


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


# --- rollout ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wine_releases(tmp_path_factory: pytest.TempPathFactory):
    """Two builds of the wine example (tests/rollout_data.py), sending to one collector port."""
    from tests.rollout_data import Releases, build_release

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
