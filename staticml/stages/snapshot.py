"""Stage: a Pyodide memory snapshot with staticml's runtime already imported.

Starting CPython inside Pyodide (unpacking the stdlib, running site, importing the runtime and
the stdlib modules it needs) is the largest part of a cold start. A snapshot of the
interpreter's memory taken after that work lets the page skip it: `loadPyodide({_loadSnapshot})`
restores the memory instead (Pyodide's private snapshot API). A snapshot only fits the Pyodide
build and the `python_stdlib.zip` it was made with, which the site vendors next to it; the page
falls back to a normal start when it cannot be used.

The snapshot holds staticml's runtime and the app's dependency wheels, imported, but not the
app's own package: the page imports that at start, after the snapshot's frozen state is renewed
(a few small modules of the app, whose standard-library imports the runtime has already made).
So a snapshot depends on Pyodide, staticml and the app's dependencies only. An edit to the
preprocessing keeps it, every app without dependencies shares one (made and compressed once per
machine), and a release that changed the preprocessing leaves the visitor's cached copy valid.

The snapshot is made in headless Chromium, in a module worker like the site's own, and kept in
the build cache under a digest of everything it was made from. The cache only saves time: the
same inputs give the same bytes from an empty cache too. The memory image is the whole wasm
heap, so everything the browser hands the interpreter up to the snapshot ends up in it. Left
alone, that varies from one build to the next:

- the wall clock (`Date.now`): the mtimes of every directory and file Pyodide creates in its
  in-memory file system, held by importlib's FileFinder caches (`_path_mtime`), by stat
  results left on the heap, and as the ints of source mtimes; the shifting sizes of those
  values move later allocations too;
- the monotonic clock (`performance.now`): start times CPython and libc keep, and the seed of
  mimalloc's heap randomness (ChaCha20 state, seeded from the clock on wasm);
- `crypto.getRandomValues`: the Mersenne Twister states of `random`'s shared generator and of
  `tempfile`'s name sequence (the wheels are unpacked through a temporary file), 2,496 bytes
  each, and the temporary names left on the heap;
- the browser: its user agent (`sys._emscripten_info.runtime`, so the Chromium version),
  language (`LANG` in the environment) and time zone (`time.tzname`, `time.timezone`).

So the helper worker (`staticml/snapshot/worker.mjs`, never the site's) replaces the two
clocks with fixed ones and `crypto.getRandomValues`/`Math.random` with a fixed xorshift
stream before Pyodide loads, and the browser context has a fixed user agent, locale and time
zone (`CONTEXT`). The hash secret was already fixed (PYTHONHASHSEED=0). The server's random
port never reaches the interpreter (Pyodide resolves URLs in JavaScript), nor does the host's
temporary folder.

Pinned state that matters at run time is the same, publicly known, in every visitor's
interpreter (it was public before too: the snapshot is a file of the site). The site's worker
therefore renews it as soon as Python has started, before any of the app's functions run
(`staticml.runtime.restored.renew`, called by `staticml.runtime.worker.start`): `random` is
re-seeded from the browser's entropy and `tempfile`'s name sequence replaced. The hash secret
cannot be changed in a running interpreter, randomness the app draws at import time is frozen
too (SECURITY.md; the app's own modules are imported after the renewal), and `time.tzname` says UTC (Pyodide has no `time.tzset`; before, it said
the build machine's zone).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from staticml.errors import BuildError
from staticml.hashing import file_sha256, sha256_hex, tree_digest
from staticml.packaging import Wheel
from staticml.runtime.contract import ReleaseListing
from staticml.runtimes import RuntimeFiles
from staticml.stages.wheels import Wheels

HELPER = Path(__file__).resolve().parent.parent / "snapshot"
PURPOSE = "runtime.snapshot = true (the build makes the Pyodide snapshot in headless Chromium)"
TIMEOUT_SECONDS = 300
RUNTIME_MODULE = "staticml.runtime.worker"
# The browser's traits that reach the interpreter's memory, the same on every build machine.
# The user agent must still read as Chrome: Pyodide picks workarounds by it.
CONTEXT = {
    "locale": "en-US",
    "timezone_id": "UTC",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/0.0.0.0 Safari/537.36 staticml-snapshot",
}


def snapshot_wheels(wheels: Wheels) -> tuple[Wheel, ...]:
    """What the snapshot installs: everything but the app's own package, in install order."""
    return (wheels.runtime, *wheels.dependencies)


def snapshot_modules(wheels: Wheels) -> tuple[str, ...]:
    """What the snapshot imports: staticml's runtime and the dependencies' top-level modules."""
    names = [name for wheel in wheels.dependencies for name in wheel.top_level]
    return tuple(dict.fromkeys([RUNTIME_MODULE, *names]))


def make_snapshot(wheels: Wheels, pyodide: RuntimeFiles, cache_dir: Path) -> bytes:
    """The snapshot for this runtime, these dependencies and this Pyodide, cached or made now."""
    installed, modules = snapshot_wheels(wheels), snapshot_modules(wheels)
    key = _cache_key(installed, pyodide, modules)
    cached = cache_dir / "snapshots" / f"{key}.snapshot"
    if cached.is_file():
        return cached.read_bytes()
    data = _make(installed, pyodide, modules)
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, cached)
    return data


def _cache_key(wheels: tuple[Wheel, ...], pyodide: RuntimeFiles, modules: tuple[str, ...]) -> str:
    parts = [(path.name, file_sha256(path)) for path in pyodide.files]
    parts += [(wheel.filename, sha256_hex(wheel.data)) for wheel in wheels]
    parts += [("modules", ",".join(modules)), ("helper", _helper_digest())]
    parts += [("context", json.dumps(CONTEXT, sort_keys=True))]
    return tree_digest(parts)


def _helper_digest() -> str:
    return tree_digest((p.name, sha256_hex(p.read_bytes())) for p in sorted(HELPER.iterdir()))


def _make(wheels: tuple[Wheel, ...], pyodide: RuntimeFiles, modules: tuple[str, ...]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="staticml-snapshot-") as folder:
        root = Path(folder)
        plan = _lay_out(root, wheels, pyodide, modules)
        # Playwright's sync API refuses a thread with a running asyncio loop: give it its own.
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(_run, root, plan).result()


def _lay_out(
    root: Path, wheels: tuple[Wheel, ...], pyodide: RuntimeFiles, modules: tuple[str, ...]
) -> dict[str, Any]:
    for path in HELPER.iterdir():
        shutil.copyfile(path, root / path.name)
    (root / "pyodide").mkdir()
    for path in pyodide.files:
        shutil.copyfile(path, root / "pyodide" / path.name)
    (root / "wheels").mkdir()
    for wheel in wheels:
        (root / "wheels" / wheel.filename).write_bytes(wheel.data)
    ReleaseListing(release="snapshot", assets={}).write(root)  # nothing here is immutable
    plan = {
        "module": "/pyodide/pyodide.mjs",
        "indexURL": "/pyodide/",
        "wheels": [f"/wheels/{wheel.filename}" for wheel in wheels],
        "modules": list(modules),
        "upload": "/snapshot",
    }
    (root / "plan.json").write_text(json.dumps(plan))
    return plan


def _run(root: Path, plan: dict[str, Any]) -> bytes:
    from staticml.headless import chromium

    received: dict[str, bytes] = {}
    with (
        _serving_with_upload(root, plan["upload"], received) as origin,
        chromium(PURPOSE, BuildError) as (browser, error),
    ):
        context = browser.new_context(**CONTEXT)
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_SECONDS * 1000)
            page.goto(origin)
            outcome = page.evaluate("window.staticmlSnapshot")
        except error as exc:
            raise BuildError(_failure(str(exc))) from exc
        finally:
            context.close()
    if "error" in outcome or "snapshot" not in received:
        raise BuildError(_failure(outcome.get("error", "nothing was uploaded")))
    return received["snapshot"]


def _failure(reason: str) -> str:
    return (
        f"headless Chromium could not make the Pyodide snapshot: {reason.strip()}. "
        "Set runtime.snapshot = false in staticml.toml to ship without one."
    )


@contextmanager
def _serving_with_upload(root: Path, upload: str, received: dict[str, bytes]) -> Iterator[str]:
    """`root` served as `staticml serve` serves it, plus a POST route the snapshot lands on."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from staticml.headless import serving_app
    from staticml.serve import create_app

    async def store(request: Request) -> Response:
        received["snapshot"] = await request.body()
        return Response(status_code=204)

    app = Starlette(
        routes=[Route(upload, store, methods=["POST"]), Mount("/", app=create_app(root))]
    )
    with serving_app(app) as origin:
        yield origin
