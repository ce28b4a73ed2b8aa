"""The routing plan: what `SITE/manifest.json` tells every page (docs/rollout.md).

A plan is data only. The router in the browser (`static/router.js`) reads it: a visitor's
bucket, a stable hash of an anonymous id and `salt` in [0, 1), falls in one route's share,
taking the routes in order. A canary is the first route, so raising its share keeps every
visitor who already had it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from staticml.errors import RolloutError

FORMAT = 1
MODES = ("stable", "canary", "ab", "bandit")
SHARE_TOLERANCE = 1e-9
RELEASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The Subresource Integrity string a shadow release's config.json is pinned by.
SHA256_INTEGRITY = re.compile(r"sha256-[A-Za-z0-9+/]{43}=")


@dataclass(frozen=True)
class Route:
    release: str
    share: float


@dataclass(frozen=True)
class Plan:
    serial: int = 0
    mode: str = "stable"
    stable: str | None = None
    routes: tuple[Route, ...] = ()
    salt: str = ""
    shadow: str | None = None
    # `sha256-...` of the shadow release's config.json: the page refuses any other file.
    shadow_integrity: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def releases(self) -> set[str]:
        """Every release a client may load now (primary routes and the shadow)."""
        names = {route.release for route in self.routes}
        names.update(r for r in (self.stable, self.shadow) if r)
        return names

    def shares(self) -> dict[str, float]:
        return {route.release: route.share for route in self.routes}

    def next(self, **changes: Any) -> Plan:
        return replace(self, serial=self.serial + 1, **changes)

    def describe(self) -> str:
        """One line for people: who gets what."""
        if self.stable is None:
            return "No release yet."
        routes = ", ".join(f"{r.release} {r.share:.1%}" for r in self.routes)
        shadow = f"; shadow {self.shadow}" if self.shadow else ""
        return (
            f"{self.mode} (manifest serial {self.serial}): {routes}; stable {self.stable}{shadow}."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "serial": self.serial,
            "mode": self.mode,
            "stable": self.stable,
            "routes": [{"release": r.release, "share": r.share} for r in self.routes],
            "salt": self.salt,
            "shadow": self.shadow,
            "shadow_integrity": self.shadow_integrity,
            **dict(self.extra),
        }


def routes_from(shares: Iterable[tuple[str, float]]) -> tuple[Route, ...]:
    """Routes with shares checked to be in [0, 1] and to add up to 1."""
    routes = tuple(Route(release, float(share)) for release, share in shares)
    if not routes:
        raise RolloutError("A plan needs at least one release to route visitors to.")
    for route in routes:
        check_release_id(route.release)
        if not (math.isfinite(route.share) and 0.0 <= route.share <= 1.0):
            raise RolloutError(f"Release {route.release} has share {route.share}; use 0 to 1.")
    total = sum(route.share for route in routes)
    if abs(total - 1.0) > SHARE_TOLERANCE * len(routes) * 10:
        raise RolloutError(f"The shares add up to {total}, not 1: {dict(shares)}.")
    return routes


def check_release_id(release: str) -> str:
    """`release`, if it is a release id; a release id is a folder name under `releases/` and part
    of URLs, so anything else (`..`, a slash, a newline) is refused."""
    if not isinstance(release, str) or not RELEASE_ID.fullmatch(release):
        raise RolloutError(
            f"{release!r} is not a release id: use the id `staticml release` printed "
            "(letters, digits, - and _)."
        )
    return release


def plan_from_json(data: Mapping[str, Any], where: str) -> Plan:
    """A plan read back from a manifest; anything malformed names the file and key.

    The router and the release pages build URLs from its release ids and route by its shares,
    so those are checked as strictly as the browser checks them (static/router.js)."""
    try:
        return _plan(data)
    except RolloutError as exc:
        raise RolloutError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise RolloutError(
            f"{where} is not a staticml site manifest ({exc!r}); restore it from history.json "
            "or run `staticml promote RELEASE` to write a fresh one."
        ) from exc


def _plan(data: Mapping[str, Any]) -> Plan:
    if data["format"] != FORMAT:
        raise RolloutError(f"format {data['format']!r}; this staticml reads {FORMAT}.")
    mode = data["mode"]
    if mode not in MODES:
        raise RolloutError(f"mode {mode!r} is not one of {', '.join(MODES)}.")
    routes = routes_from((r["release"], _share(r["share"])) for r in data["routes"])
    shadow, pin = _shadow(data.get("shadow"), data.get("shadow_integrity"))
    known = {"format", "serial", "mode", "stable", "routes", "salt", "shadow", "shadow_integrity"}
    return Plan(
        serial=int(data["serial"]),
        mode=mode,
        stable=check_release_id(data["stable"]),
        routes=routes,
        salt=str(data["salt"]),
        shadow=shadow,
        shadow_integrity=pin,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _share(value: Any) -> float:
    """A route's share as written: a JSON number (not a string or a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RolloutError(f"share {value!r} is not a number from 0 to 1.")
    return float(value)


def _shadow(shadow: Any, pin: Any) -> tuple[str | None, str | None]:
    """The shadow release and the pin of its config.json. A plan written before pins existed
    has none: it is read, and the page refuses to run that shadow until it is set again."""
    if shadow is None:
        if pin is not None:
            raise RolloutError(f"shadow_integrity {pin!r} is set, but no shadow is.")
        return None, None
    check_release_id(shadow)
    if pin is not None and not (isinstance(pin, str) and SHA256_INTEGRITY.fullmatch(pin)):
        raise RolloutError(
            f"shadow_integrity {pin!r} is not the sha256 integrity (sha256-...) of release "
            f"{shadow}'s config.json; run `staticml shadow {shadow}` again."
        )
    return shadow, pin
