"""Firefox and WebKit for the browser tests, beside Playwright's Chromium (tests/support/browser.py).

Playwright drives only its own patched builds of Firefox and WebKit, which cannot be downloaded
here, so Debian's engines are driven through their own WebDriver servers:

- Firefox ESR speaks WebDriver BiDi itself (`--remote-debugging-port`), with no geckodriver:
  `BidiClient` is the protocol's few commands the tests use, over a WebSocket.
- WebKitGTK's MiniBrowser through WebKitWebDriver (classic WebDriver, with Selenium), on a
  display of its own (Xvfb).

Both are told to use a recording proxy (tests/support/recorder.py) that forwards only to the
site's origin: it sees every request, the workers' too, sends none elsewhere, and collects the
engine's Content Security Policy violations. `engine_page(engine, origin)` gives an `EnginePage`
with one interface for both: it types, clicks and draws through the engine's own input
(WebDriver actions), chooses files as a file picker would (BiDi's `input.setFiles`, WebDriver's
keys sent to a file input), and the engine saves downloads, unasked, in a folder of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from tests.support.recorder import Recorded, recording_proxy

FIREFOX = os.environ.get("STATICML_FIREFOX", "/usr/bin/firefox-esr")
WEBKIT_DRIVER = os.environ.get("STATICML_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
MINIBROWSER = os.environ.get(
    "STATICML_MINIBROWSER", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
)
XVFB = "/usr/bin/Xvfb"
FIREFOX_ARGS = ("--remote-debugging-port=0", "about:blank")
ENGINES = ("firefox", "webkit")
READY = "() => window.staticml.ready"  # the page's ready info, once its runtime is up

# Firefox's own traffic (updates, telemetry, safe browsing, ...) off, and every request through
# the proxy, loopback included.
FIREFOX_PREFS = {
    "app.normandy.enabled": False,
    "app.update.auto": False,
    "app.update.enabled": False,
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.region.network.url": "",
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.topsites.contile.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "dom.push.connection.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.update.enabled": False,
    "geo.provider.network.url": "",
    "media.gmp-manager.url": "",
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-widevinecdm.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.proxy.allow_hijacking_localhost": True,
    "network.proxy.no_proxies_on": "",
    "network.proxy.type": 1,
    # Remote settings from nowhere (geckodriver's choice): a data: URL is never fetched.
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "extensions.blocklist.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "network.trr.mode": 5,
    "privacy.query_stripping.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
}


# Firefox's own services, which it calls whatever the preferences say (remote settings, media
# plugin updates): never the page's requests, and the proxy sends them nowhere either.
FIREFOX_OWN_HOSTS = (
    "https://firefox.settings.services.mozilla.com:",
    "https://update.googleapis.com:",
)


class EngineError(RuntimeError):
    """The engine could not be started or did not answer."""


class EnginePage(Protocol):
    recorded: Recorded
    console_errors: list[str]
    downloads: Path  # where the engine saves a download, without asking

    @property
    def foreign(self) -> list[str]:
        """The page's requests (its workers' and service worker's too) off its origin."""
        ...

    def goto(self, url: str) -> None: ...

    def call(self, function: str, *args: Any, timeout: float = 180) -> Any:
        """`function` (JavaScript source, may be async) applied to `args` in the page: its
        result, which must be JSON."""
        ...

    def click(self, selector: str) -> None: ...

    def fill(self, selector: str, value: str) -> None:
        """Types `value` into the text field `selector`, in place of what it held."""
        ...

    def choose_file(self, selector: str, path: Path) -> None:
        """Chooses `path` in the file input `selector`, as the visitor's file picker would."""
        ...

    def draw(self, selector: str, strokes: Strokes) -> None:
        """Draws each stroke with the mouse (button down, moves, up) over the element
        `selector`; a stroke's points are fractions of the element's width and height."""
        ...

    def text(self, selector: str) -> str: ...

    def wait_until(self, predicate: str, timeout: float = 180) -> None:
        """Until the JavaScript expression `predicate` is true in the page."""
        ...


SCROLL = (
    """(s) => document.querySelector(s).scrollIntoView({block: "center", behavior: "instant"})"""
)
Strokes = list[list[tuple[float, float]]]
STEPS = 10  # mouse moves between two points of a stroke, as a hand's would be
BOX = """(s) => {
  const e = document.querySelector(s);
  e.scrollIntoView({block: "center"});
  const r = e.getBoundingClientRect();
  return {x: r.left, y: r.top, width: r.width, height: r.height};
}"""


def _paths(box: dict[str, float], strokes: Strokes) -> list[list[tuple[int, int]]]:
    """The strokes in the viewport's whole pixels, with `STEPS` moves from each point to the next."""

    def at(x: float, y: float) -> tuple[int, int]:
        return round(box["x"] + x * box["width"]), round(box["y"] + y * box["height"])

    paths = []
    for stroke in strokes:
        path = [at(*stroke[0])]
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            path += [
                at(x0 + (x1 - x0) * i / STEPS, y0 + (y1 - y0) * i / STEPS)
                for i in range(1, STEPS + 1)
            ]
        paths.append(path)
    return paths


def _as_json_call(function: str, args: tuple[Any, ...]) -> str:
    return f"(async () => JSON.stringify(await ({function})(...{json.dumps(list(args))})))()"


def _poll(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)


# --- Firefox over WebDriver BiDi ----------------------------------------------------------------


class BidiClient:
    """Commands and events of a WebDriver BiDi session, on a WebSocket read by one thread."""

    def __init__(self, url: str) -> None:
        import websocket

        self._socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._socket.settimeout(None)
        # A session's socket was once left open after websocket-client's close() (a
        # ResourceWarning at a later collection): `close` closes it whatever that did.
        self._raw = self._socket.sock
        self._ids = itertools.count(1)
        self._waiting: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, name="bidi", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = json.loads(self._socket.recv())
            except Exception:
                for waiting in self._waiting.values():
                    waiting.put({"type": "error", "message": "the connection closed"})
                return
            if "id" in message and message["id"] in self._waiting:
                self._waiting.pop(message["id"]).put(message)
            elif message.get("type") == "event":
                self.events.append(message)

    def send(self, method: str, params: dict, timeout: float = 60) -> dict:
        answer: queue.Queue = queue.Queue()
        with self._lock:
            command_id = next(self._ids)
            self._waiting[command_id] = answer
            self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        try:
            message = answer.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{method} got no answer within {timeout:.0f} s") from None
        if message.get("type") != "success":
            raise EngineError(f"{method}: {message.get('error')}: {message.get('message')}")
        return message["result"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._socket.close()
        self._raw.close()
        self._reader.join(timeout=10)


class FirefoxPage:
    def __init__(
        self, client: BidiClient, context: str, recorded: Recorded, downloads: Path
    ) -> None:
        self.client, self.context, self.recorded = client, context, recorded
        self.downloads = downloads

    @property
    def console_errors(self) -> list[str]:
        return [
            f"console.{e['params'].get('level')}: {e['params'].get('text')}"
            for e in self.client.events
            if e.get("method") == "log.entryAdded" and e["params"].get("level") == "error"
        ]

    @property
    def foreign(self) -> list[str]:
        """What the proxy refused but Firefox's own services, and what BiDi saw the page's
        documents and workers ask for elsewhere (a service worker's requests only the proxy sees)."""
        origin = self.recorded.origin + "/"
        seen = [
            e["params"]["request"]["url"]
            for e in self.client.events
            if e.get("method") == "network.beforeRequestSent"
        ]
        refused = [u for u in self.recorded.foreign if not u.startswith(FIREFOX_OWN_HOSTS)]
        return refused + [u for u in seen if not u.startswith((origin, "data:", "blob:"))]

    def goto(self, url: str) -> None:
        self.client.send(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def call(self, function: str, *args: Any, timeout: float = 180) -> Any:
        result = self.client.send(
            "script.evaluate",
            {
                "expression": _as_json_call(function, args),
                "target": {"context": self.context},
                "awaitPromise": True,
            },
            timeout=timeout,
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise EngineError(f"in Firefox: {details.get('text')}")
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    def _element(self, selector: str) -> dict[str, str]:
        found = self.client.send(
            "script.evaluate",
            {
                "expression": f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                ' e?.scrollIntoView({block: "center"}); return e; })()',
                "target": {"context": self.context},
                "awaitPromise": False,
            },
        )
        shared = found["result"].get("sharedId")
        if not shared:
            raise EngineError(f"no element matches {selector}")
        return {"sharedId": shared}

    def _perform(self, source: str, actions: list[dict]) -> None:
        kind = {"mouse": {"type": "pointer", "parameters": {"pointerType": "mouse"}}}
        device = {"id": source, "actions": actions, **kind.get(source, {"type": "key"})}
        self.client.send("input.performActions", {"context": self.context, "actions": [device]})

    def click(self, selector: str) -> None:
        """A click at the element's centre, once it is scrolled into view (an action's
        pointer does not scroll: outside the viewport it would land elsewhere)."""
        self.call(SCROLL, selector)
        origin = {"type": "element", "element": self._element(selector)}
        actions = [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        self._perform("mouse", actions)

    def fill(self, selector: str, value: str) -> None:
        self.click(selector)
        focused = f"document.activeElement === document.querySelector({json.dumps(selector)})"
        _poll(lambda: self.call(f"() => {focused}"), 10, f"{selector} focused by a click")
        keys = [*_chord(CONTROL, "a"), *_press(BACKSPACE), *(a for c in value for a in _press(c))]
        self._perform("keyboard", keys)
        typed = f"document.querySelector({json.dumps(selector)}).value === {json.dumps(value)}"
        _poll(lambda: self.call(f"() => {typed}"), 10, f"{selector} holding {value!r}")

    def choose_file(self, selector: str, path: Path) -> None:
        self.client.send(
            "input.setFiles",
            {"context": self.context, "element": self._element(selector), "files": [str(path)]},
        )

    def draw(self, selector: str, strokes: Strokes) -> None:
        actions: list[dict] = []
        for first, *rest in _paths(self.call(BOX, selector), strokes):
            actions += [_move(first), {"type": "pointerDown", "button": 0}]
            actions += [_move(point) for point in rest]
            actions.append({"type": "pointerUp", "button": 0})
        self._perform("mouse", actions)

    def text(self, selector: str) -> str:
        return self.call("(s) => document.querySelector(s).textContent", selector)

    def wait_until(self, predicate: str, timeout: float = 180) -> None:
        _poll(lambda: self.call(f"() => Boolean({predicate})"), timeout, predicate)


CONTROL, BACKSPACE = "\ue009", "\ue003"  # WebDriver's key codes


def _press(key: str) -> list[dict[str, str]]:
    return [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]


def _chord(modifier: str, key: str) -> list[dict[str, str]]:
    down, up = _press(modifier)
    return [down, *_press(key), up]


def _move(point: tuple[int, int]) -> dict[str, Any]:
    return {"type": "pointerMove", "x": point[0], "y": point[1], "origin": "viewport"}


def _firefox_profile(folder: Path, proxy_port: int, downloads: Path, extra: dict[str, Any]) -> None:
    prefs = {
        **FIREFOX_PREFS,
        "browser.download.dir": str(downloads),
        "browser.download.folderList": 2,
        "browser.download.useDownloadDir": True,
        "browser.download.always_ask_before_handling_new_types": False,
        **extra,
        "network.proxy.http": "127.0.0.1",
        "network.proxy.http_port": proxy_port,
        "network.proxy.ssl": "127.0.0.1",
        "network.proxy.ssl_port": proxy_port,
    }
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
    (folder / "user.js").write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def firefox(origin: str, prefs: dict[str, Any] | None = None) -> Iterator[FirefoxPage]:
    """A fresh headless Firefox (its own profile, with `prefs` besides the tests' own), one
    tab, every request through the proxy."""
    if not Path(FIREFOX).exists():
        raise EngineError(f"Firefox not found at {FIREFOX}: run ./dev test, which installs it")
    with (
        recording_proxy(origin) as (port, recorded),
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as home,
    ):
        profile = Path(home) / "profile"
        profile.mkdir()
        downloads = Path(home) / "downloads"
        downloads.mkdir()
        _firefox_profile(profile, port, downloads, prefs or {})
        log = Path(home) / "firefox.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [FIREFOX, "--headless", "--no-remote", "--profile", str(profile), *FIREFOX_ARGS],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "HOME": home},
            )
        client = None
        try:
            url = _wait_for_line(
                log, re.compile(r"WebDriver BiDi listening on (ws://\S+)"), process
            )
            client = BidiClient(f"{url}/session")
            client.send("session.new", {"capabilities": {}})
            client.send(
                "session.subscribe", {"events": ["log.entryAdded", "network.beforeRequestSent"]}
            )
            [top] = client.send("browsingContext.getTree", {})["contexts"]
            yield FirefoxPage(client, top["context"], recorded, downloads)
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.send("browser.close", {}, timeout=10)
                client.close()
            _end(process)


def _wait_for_line(log: Path, pattern: re.Pattern[str], process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise EngineError(f"{Path(process.args[0]).name} did not start:\n{log.read_text()[-2000:]}")


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- WebKit through WebKitWebDriver -------------------------------------------------------------


MOVE_MS = 10  # Selenium's default, 250 ms a move, would make a stroke take seconds


class WebKitPage:
    def __init__(self, driver, recorded: Recorded, downloads: Path) -> None:
        self.driver, self.recorded, self.downloads = driver, recorded, downloads
        # Classic WebDriver reports no console messages: the proxy's CSP reports stand in.
        self.console_errors: list[str] = []

    @property
    def foreign(self) -> list[str]:
        return list(self.recorded.foreign)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def call(self, function: str, *args: Any, timeout: float = 180) -> Any:
        self.driver.set_script_timeout(timeout)
        script = (
            "const done = arguments[arguments.length - 1];"
            f"{_as_json_call(function, args)}.then(done, (e) => done(JSON.stringify({{__error: String(e && e.message || e)}})));"
        )
        value = self.driver.execute_async_script(script)
        result = None if value is None else json.loads(value)
        if isinstance(result, dict) and "__error" in result:
            raise EngineError(f"in WebKit: {result['__error']}")
        return result

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def fill(self, selector: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        field = self.driver.find_element(By.CSS_SELECTOR, selector)
        field.clear()
        field.send_keys(value)

    def choose_file(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def draw(self, selector: str, strokes: Strokes) -> None:
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        builder = ActionBuilder(self.driver, duration=MOVE_MS)
        for (x, y), *rest in _paths(self.call(BOX, selector), strokes):
            builder.pointer_action.move_to_location(x, y).pointer_down()
            for x, y in rest:
                builder.pointer_action.move_to_location(x, y)
            builder.pointer_action.pointer_up()
        builder.perform()

    def text(self, selector: str) -> str:
        return self.call("(s) => document.querySelector(s).textContent", selector)

    def wait_until(self, predicate: str, timeout: float = 180) -> None:
        _poll(lambda: self.call(f"() => Boolean({predicate})"), timeout, predicate)


def _download_folder(home: Path) -> Path:
    """WebKitGTK saves a download the browser does not place itself in the user's download
    folder (GLib's XDG user directory), set here in the config folder of `home`."""
    downloads, config = home / "downloads", home / "config"
    downloads.mkdir()
    config.mkdir()
    (config / "user-dirs.dirs").write_text(f'XDG_DOWNLOAD_DIR="{downloads}"\n')
    return downloads


@contextlib.contextmanager
def display() -> Iterator[str]:
    """An Xvfb display of its own: its name (":N")."""
    if not Path(XVFB).exists():
        raise EngineError(f"Xvfb not found at {XVFB}: run ./dev test, which installs xvfb")
    read, write = os.pipe()
    process = subprocess.Popen(
        [XVFB, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise EngineError("Xvfb did not start")
        yield f":{number}"
    finally:
        _end(process)


@contextlib.contextmanager
def webkit(origin: str) -> Iterator[WebKitPage]:
    """A fresh MiniBrowser (WebKitGTK) on its own display, every request through the proxy."""
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    for path in (WEBKIT_DRIVER, MINIBROWSER):
        if not Path(path).exists():
            raise EngineError(f"{path} not found: run ./dev test, which installs webkit2gtk-driver")
    with (
        recording_proxy(origin) as (port, recorded),
        display() as screen,
        # The web process may still write its shader cache there as the session ends.
        tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as home,
    ):
        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        options.add_argument(f"--proxy=http://127.0.0.1:{port}")
        env = {**os.environ, "DISPLAY": screen, "HOME": home, "XDG_CACHE_HOME": f"{home}/cache"}
        env["XDG_DATA_HOME"] = f"{home}/data"
        env["XDG_CONFIG_HOME"] = f"{home}/config"
        downloads = _download_folder(Path(home))
        service = Service(executable_path=WEBKIT_DRIVER, env=env)
        with warnings.catch_warnings():
            # Selenium 4.51's own WebKitGTK driver calls its deprecated RemoteConnection form.
            warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
            driver = webdriver.WebKitGTK(options=options, service=service)
        try:
            yield WebKitPage(driver, recorded, downloads)
        finally:
            driver.quit()


@contextlib.contextmanager
def engine_page(engine: str, origin: str, **options: Any) -> Iterator[EnginePage]:
    """A page of a fresh `engine` ("firefox" or "webkit") that may reach only `origin`;
    `options` go to the engine's own function (Firefox's `prefs`)."""
    opened: Any = {"firefox": firefox, "webkit": webkit}[engine]
    with opened(origin, **options) as page:
        yield page


def download(page: EnginePage, selector: str, name: str, timeout: float = 60) -> Path:
    """Clicks the link `selector` and waits for the engine to have saved the file `name` it
    downloads, and nothing else (a partial download under a name of the engine's) beside it."""
    page.click(selector)

    def saved() -> bool:
        files = list(page.downloads.iterdir())
        return [f.name for f in files] == [name] and files[0].stat().st_size > 0

    try:
        _poll(saved, timeout, f"the download of {name}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: found {sorted(os.listdir(page.downloads))}") from None
    return page.downloads / name


def assert_clean(page: EnginePage) -> None:
    """Nothing left the origin, and the engine reported no CSP violation or console error."""
    assert page.foreign == [], f"requests left the origin: {page.foreign}"
    assert page.recorded.violations == [], page.recorded.violations
    assert page.console_errors == []


def engines_missing() -> list[str]:
    """What of the engines' programs is not installed (./dev test installs them all)."""
    wanted = [FIREFOX, WEBKIT_DRIVER, MINIBROWSER, XVFB]
    return [path for path in wanted if not Path(path).exists() and not shutil.which(path)]
