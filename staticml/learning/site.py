"""What continual learning needs of a site, on top of `staticml.rollout.site.Site`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import BuildError
from staticml.rollout.site import Site


@dataclass(frozen=True)
class SiteState:
    stable: str
    shadow: str | None
    canary: str | None


def state(site: Path) -> SiteState:
    plan = Site(site).state()
    if plan.stable is None:
        raise BuildError(
            f"{site} has no release yet: build the app and publish it first with "
            "`staticml release BUILD_DIR --site SITE_DIR`."
        )
    canary = plan.routes[0].release if plan.mode == "canary" else None
    return SiteState(plan.stable, plan.shadow, canary)


def current(site: Path) -> str:
    return state(site).stable


def release_dir(site: Path, release: str) -> Path:
    folder = Site(site).root / "releases" / release
    if not folder.is_dir():
        raise BuildError(f"{site} has no release {release} (no folder {folder}).")
    return folder


def provenance(site: Path, release: str) -> dict[str, Any]:
    """The release's model provenance from its model report (empty if it has none)."""
    path = release_dir(site, release) / "model.json"
    if not path.is_file():
        return {}
    report = json.loads(path.read_text(encoding="utf-8"))
    return dict(report.get("provenance") or {})


def publish_shadow(site: Path, build_dir: Path) -> str:
    """Add the build as a release and run it as the shadow of the stable release."""
    target = Site(site)
    release = target.add(build_dir)
    target.shadow(release)
    return release


def start_canary(site: Path, release: str, percent: float) -> None:
    target = Site(site)
    if target.state().shadow == release:
        target.shadow(None)
    target.canary(release, percent)


def drop_shadow(site: Path) -> None:
    Site(site).shadow(None)


def promote(site: Path, release: str) -> None:
    Site(site).promote(release)


def rollback(site: Path) -> None:
    Site(site).rollback()
