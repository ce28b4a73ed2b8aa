"""The session's cold builds of the demo (`DemoBuilds`), which `built_site` waits for.

The demo is built through `python build.py` (the README's path), in the background from the
start of the session, from a cold cache (`cold_cache`).
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.support import APP_DIR, ROOT


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
    from staticml.stages.limits import MIB, shipped, split_large
    from staticml.stages.precompress import precompress_ahead
    from staticml.stages.snapshot import make_snapshot
    from staticml.stages.wheels import pack_wheels

    config = load_config(APP_DIR)
    runtimes, cache = locate_runtimes(default_node_modules()), user_cache()
    made = make_snapshot(pack_wheels(config), runtimes.pyodide, cache)
    snapshot = [make.runtime_file("python", "python.snapshot", made, "snapshot")]
    parts = split_large(snapshot, config.build.max_file_mib * MIB)
    shared = [
        *(asset for runtime in runtimes.all() for asset in make.runtime_assets(runtime)),
        *shipped(snapshot, parts),
    ]
    precompress_ahead(shared, config.build.brotli_quality, cache).result()


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
