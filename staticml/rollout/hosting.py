"""How `staticml serve` hosts a site (a folder with `manifest.json` and `releases/`).

`manifest.json`, `history.json` and the router page revalidate on every load, so a promotion
reaches visitors at their next page load; the shared runtimes, the router script and every
file a release's `bundle.json` lists as content-hashed are cached forever. The Content
Security Policy lets pages send to the collectors their releases name, and lets the inline
scripts of the releases' pages and of the router page run (their import maps), no other.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from staticml.errors import StaticMLError
from staticml.headers import content_security_policy, origin_of
from staticml.rollout.release import RELEASES, RUNTIME
from staticml.rollout.site import ROUTER_PAGE, SITE_MANIFEST, router_scripts
from staticml.runtime.contract import MANIFEST, ReleaseListing

# The router script and the storage-keys module it imports, at the site's root.
_ROUTER = re.compile(r"(?:router|storage)\.[0-9a-f]{12}\.js")


def is_site(root: Path) -> bool:
    return (root / SITE_MANIFEST).is_file() and (root / RELEASES).is_dir()


class SitePolicy:
    def __init__(self, root: Path) -> None:
        self.root = root

    def immutable(self, served: str) -> bool:
        parts = served.split("/")
        if parts[0] == RUNTIME:
            return len(parts) > 2
        if parts[0] == RELEASES and len(parts) > 2:
            return "/".join(parts[2:]) in _release_facts(self.root / RELEASES / parts[1])[0]
        return bool(_ROUTER.fullmatch(served))

    def collectors(self) -> list[str]:
        origins = {
            _release_facts(folder)[1]
            for folder in sorted((self.root / RELEASES).glob("*"))
            if not folder.name.startswith(".")
        }
        return sorted(origin for origin in origins if origin)

    def scripts(self) -> list[str]:
        """The hashes of the inline scripts of every release's page and of the router page."""
        hashes = {
            script
            for folder in sorted((self.root / RELEASES).glob("*"))
            if not folder.name.startswith(".")
            for script in _release_facts(folder)[2]
        }
        return sorted(hashes | set(router_scripts(self.root / ROUTER_PAGE)))


@lru_cache(maxsize=256)
def _release_facts(folder: Path) -> tuple[frozenset[str], str | None, tuple[str, ...]]:
    """A release's content-hashed paths, collector origin and inline script hashes (releases
    never change)."""
    path = folder / MANIFEST
    try:
        bundle = ReleaseListing.read(path)
        content_security_policy(scripts=bundle.scripts)  # a malformed hash is refused now
    except FileNotFoundError:
        return frozenset(), None, ()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StaticMLError(f"{path} is not a valid staticml manifest ({exc}).") from exc
    collector = bundle.monitor.collector
    return bundle.immutable, origin_of(collector) if collector else None, bundle.scripts
