"""Watched Chromium contexts: every request must stay on the page's origin, and the console
must stay free of errors the test did not expect (`Watched.expect_errors`); conftest's
`no_browser_errors` checks each context a test opened (`WATCHED`) after the test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from staticml.headless import CHROMIUM_ARGS as VERIFY_CHROMIUM_ARGS

CHROMIUM = os.environ.get("STATICML_CHROMIUM", "/usr/bin/chromium")
# The flags `staticml build --verify` uses, including a dead proxy as a second guard besides
# routing: anything not on loopback goes nowhere.
CHROMIUM_ARGS = list(VERIFY_CHROMIUM_ARGS)


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
WATCHED: list[Watched] = []


def watch(browser, origin: str, allowed: tuple[str, ...] = (), **options) -> Watched:
    """A context whose requests may go only to `origin` (and the `allowed` URL prefixes, such
    as the collector a monitored site is configured with); anything else is kept as foreign.

    Requests are observed, not intercepted: an intercepted request waits for the driver, and
    when its page closes meanwhile Chromium drops it, which loses the beacon a page sends
    as it is closed."""
    context = browser.new_context(**options)
    watched = Watched(context, origin)
    WATCHED.append(watched)
    permitted = (origin, "data:", "blob:", *allowed)

    def seen(request) -> None:
        watched.requests.append(request.url)
        if not request.url.startswith(permitted):
            watched.foreign.append(request.url)

    context.on("request", seen)
    return watched


# What Pyodide itself logs when its standard library cannot be downloaded.
PYODIDE_STDLIB_ERRORS = r"installing the standard library|BootError: Could not download"
