"""`staticml serve --watch APP_DIR`: build, serve, rebuild on every saved file, reload the page.

    watchfiles ─ changes ─ build_app (the same build as `staticml build`) ─ Channel ─ pages

The loop builds in one thread and the server (`channel.watch_server`) answers in the main
one. A build that fails leaves the last good site in place (`build_app` writes its folder only
at the end) and its error goes to the terminal and to every open page. The stages whose
inputs did not change come from the build cache and, in this long-lived process, from the
browser measurement's memory (`staticml.stages.browser`), the compiled page templates
(`staticml.templates`) and the digests of files that did not change (`hashing.file_sha256`):
a preprocessing edit repacks a small wheel and reruns the CPython stages, the Pyodide snapshot,
which never holds the app's own package, stays as it was, and the files the previous build
holds unchanged are linked into the new one (`staticml.stages.write`), not written again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from staticml.errors import StaticMLError
from staticml.watch.channel import Channel, watch_server

log = logging.getLogger("staticml.watch")

Say = Callable[[str], None]


@dataclass(frozen=True)
class WatchOptions:
    app_dir: Path
    out: Path | None = None  # default: a temporary folder, removed at the end
    node_modules: Path | None = None
    compress: str | None = None


def rebuild(options: WatchOptions, out: Path, channel: Channel, say: Say) -> bool:
    """One build into `out`; True when it succeeded and the server now serves it."""
    from staticml.config import load_config, with_compress_mode
    from staticml.serve import create_app
    from staticml.stages import build_app

    channel.building()
    started = time.perf_counter()
    try:
        config = with_compress_mode(load_config(options.app_dir), options.compress)
        result = build_app(config, out, node_modules=options.node_modules)
        channel.built(create_app(result.out_dir))
    except StaticMLError as error:
        channel.failed(str(error))
        say(f"Build failed; still serving the last good build.\nError: {error}")
        return False
    except Exception as error:  # a bug, not the app's mistake: keep serving, show it whole
        channel.failed(f"{type(error).__name__}: {error}")
        say("Build failed; still serving the last good build.\n" + traceback.format_exc())
        return False
    say(f"Built release {result.release} in {time.perf_counter() - started:.1f} s.")
    return True


def changed_files(app_dir: Path, out: Path, stop: threading.Event) -> Iterable[set[str]]:
    """Sets of files of the app that changed, as they are saved; never the build's own output."""
    from watchfiles import DefaultFilter, watch

    ignored = DefaultFilter(ignore_paths=[out.resolve()])
    for changes in watch(app_dir, watch_filter=ignored, stop_event=stop, raise_interrupt=False):
        yield {path for _, path in changes}


def watch_loop(
    options: WatchOptions, out: Path, channel: Channel, stop: threading.Event, say: Say
) -> None:
    rebuild(options, out, channel, say)
    for paths in changed_files(options.app_dir, out, stop):
        shown = ", ".join(sorted(_relative(options.app_dir, p) for p in paths))
        say(f"Changed: {shown}; rebuilding ...")
        rebuild(options, out, channel, say)


def serve_watching(options: WatchOptions, host: str, port: int, say: Say) -> None:
    """Build `options.app_dir`, serve it on host:port and rebuild it on every change, until
    interrupted."""
    import uvicorn

    app_dir = options.app_dir.resolve()
    if not app_dir.is_dir():
        raise StaticMLError(f"App directory {app_dir} does not exist.")
    options = WatchOptions(app_dir, options.out, options.node_modules, options.compress)
    folder = Path(tempfile.mkdtemp(prefix="staticml-watch-"))
    out = options.out or folder / "site"
    channel, stop = Channel(), threading.Event()
    loop = threading.Thread(
        target=watch_loop,
        args=(options, out, channel, stop, say),
        name="staticml-watch",
        daemon=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            watch_server(channel, on_startup=loop.start),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    say(f"Watching {app_dir}; serving its build on http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        server.run()
    finally:
        stop.set()
        channel.closed.set()
        if loop.is_alive():
            loop.join(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return path
