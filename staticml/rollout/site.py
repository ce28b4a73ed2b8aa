"""A site: immutable releases, the routing plan every page reads, and the history of changes.

    site = Site("site")
    release = site.add("dist")          # SITE/releases/<release>/, the first one becomes stable
    site.canary(release, 10)            # 10% of browsers, then site.canary(release, 30), ...
    site.promote(release)               # everyone, at their next page load
    site.rollback()                     # back to the release before

Every change writes `manifest.json` (the plan) by write-then-rename, so a client never reads
half a file, and appends to `history.json`. Changes hold a lock file, so two commands on one
site never interleave. The browser side is `static/router.js`; docs/rollout.md has the layout.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from staticml.errors import RolloutError
from staticml.hashing import hashed_name, integrity, sha256_hex
from staticml.headers import policy_element
from staticml.importmap import element, import_map, import_maps_in, script_hash
from staticml.rollout.plan import Plan, Route, check_release_id, plan_from_json, routes_from
from staticml.rollout.release import (
    RELEASES,
    RUNTIME,
    copy_release,
    page_config_integrity,
    read_bundle,
    runtime_folders,
)
from staticml.site import site_root

SITE_MANIFEST = "manifest.json"
HISTORY = "history.json"
ROUTER_SOURCE = "static/router.js"
# The storage keys the router shares with the release pages (static/storage.js).
ROUTER_MODULES = ("static/storage.js",)
ROUTER_PAGE = "index.html"
LOCK = ".staticml-site.lock"
DEFAULT_KEEP = 5
ROUTER_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  {policy}
  <meta name="referrer" content="no-referrer">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Loading…</title>
  <link rel="icon" href="data:,">
  {importmap}
  <script type="module" src="{src}" integrity="{integrity}"></script>
</head>
<body data-state="routing">
  <p id="router-status" role="status">Loading…</p>
</body>
</html>
"""


class Site:
    """A folder of releases served as one site (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- reading ---------------------------------------------------------------------------

    def state(self) -> Plan:
        """The plan in `manifest.json` (an empty plan for a site without releases)."""
        path = self.root / SITE_MANIFEST
        if not path.is_file():
            return Plan()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RolloutError(f"{path} cannot be read ({exc}).") from exc
        return plan_from_json(data, str(path))

    def history(self) -> list[dict[str, Any]]:
        """Every change, oldest first: action, time (UTC), the release and the plan after it."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        try:
            return list(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise RolloutError(f"{path} cannot be read ({exc}).") from exc

    def releases(self) -> list[str]:
        """Releases present in the site, in the order they were added."""
        present = {p.name for p in (self.root / RELEASES).glob("*") if not p.name.startswith(".")}
        added = [e["release"] for e in self.history() if e["action"] == "release"]
        last = {release: position for position, release in enumerate(added)}
        ordered = sorted((r for r in last if r in present), key=last.__getitem__)
        return ordered + sorted(present - set(ordered))

    @property
    def releases_folder(self) -> Path:
        """Where each release's folder is (a collector's --site watches it for new ones)."""
        return self.root / RELEASES

    def release_dirs(self) -> list[Path]:
        """The folders of the releases present (what a collector needs to accept them)."""
        return [self.root / RELEASES / release for release in self.releases()]

    def rollback_target(self) -> str | None:
        """The release `rollback` returns to from the current stable one."""
        stable = self.state().stable
        for entry in reversed(self.history()):
            if entry["action"] == "promote" and entry["release"] == stable:
                return entry.get("previous")
        return None

    # --- changing --------------------------------------------------------------------------

    def add(self, build_dir: Path | str, *, keep: int = DEFAULT_KEEP) -> str:
        """Copy a build in as a release (the first becomes stable); old releases beyond `keep`
        that nothing references are deleted. Returns the release id."""
        with self._locked():
            present = set(self.releases())
            release = copy_release(Path(build_dir), self.root)
            self._write_router()
            plan = self.state()
            if plan.stable is None:
                plan = plan.next(stable=release, routes=(Route(release, 1.0),))
                self._commit(plan, "release", release)
            elif release not in present:  # new, or added again after being collected
                self._record("release", release, plan)
            self._collect(keep)
            return release

    def promote(self, release: str) -> Plan:
        """Everyone gets `release` from their next page load (ends a canary, A/B or bandit)."""
        with self._locked():
            plan = self.state()
            self._require(release)
            previous = plan.stable
            if plan.shadow == release:  # it serves everyone now: no longer beside itself
                plan = replace(plan, shadow=None, shadow_integrity=None)
            new = plan.next(mode="stable", stable=release, routes=(Route(release, 1.0),))
            return self._commit(new, "promote", release, previous=previous)

    def rollback(self) -> Plan:
        """Abort a canary, A/B test or bandit (back to the stable release); with none running,
        return to the release that was stable before the current one."""
        with self._locked():
            plan = self._started()
            if plan.mode != "stable":
                new = plan.next(mode="stable", routes=(Route(str(plan.stable), 1.0),))
                return self._commit(new, "rollback", str(plan.stable), aborted=plan.mode)
            target = self.rollback_target()
            if target is None or target not in self.releases():
                raise RolloutError(
                    f"Nothing to roll back to: release {plan.stable} was not promoted over "
                    "another release still in the site. Promote a release by name instead."
                )
            new = plan.next(stable=target, routes=(Route(target, 1.0),))
            return self._commit(new, "rollback", target, previous=plan.stable)

    def canary(self, release: str, percent: float) -> Plan:
        """`percent` of browsers get `release`, the rest the stable release. Raising the
        percentage of a running canary keeps every browser that already had it."""
        if not 0 < percent < 100:
            raise RolloutError(
                f"--percent {percent} is out of range: a canary takes more than 0 and less than "
                "100 percent (promote the release to give it everyone)."
            )
        with self._locked():
            plan = self._started()
            self._require(release)
            if release == plan.stable:
                raise RolloutError(f"Release {release} is already stable; canary another one.")
            running = plan.mode == "canary" and plan.routes[0].release == release
            salt = plan.salt if running else secrets.token_hex(8)
            share = percent / 100
            routes = routes_from([(release, share), (str(plan.stable), 1 - share)])
            new = plan.next(mode="canary", routes=routes, salt=salt)
            return self._commit(new, "canary", release, percent=percent)

    def shadow(self, release: str | None) -> Plan:
        """Pages also run `release`'s model after each prediction and report how it compares;
        None stops shadowing. The plan pins the release's config.json by its hash, as it is
        now: pages refuse to run a shadow whose configuration changed afterwards."""
        with self._locked():
            plan = self._started()
            pin = None
            if release is not None:
                self._require(release)
                if release in {route.release for route in plan.routes}:
                    raise RolloutError(
                        f"Release {release} already serves visitors; shadow a release that does not."
                    )
                pin = page_config_integrity(self.root / RELEASES / release)
            new = plan.next(shadow=release, shadow_integrity=pin)
            return self._commit(new, "shadow", release)

    def split(self, releases: Sequence[str], *, mode: str = "ab") -> Plan:
        """An A/B test (`mode="ab"`) or a bandit's start (`"bandit"`): equal shares."""
        if len(set(releases)) < 2 or len(set(releases)) != len(releases):
            raise RolloutError(
                f"An A/B test or bandit needs two or more different releases, not {list(releases)}."
            )
        with self._locked():
            plan = self._started()
            for release in releases:
                self._require(release)
            routes = routes_from((r, 1 / len(releases)) for r in releases)
            new = plan.next(mode=mode, routes=routes, salt=secrets.token_hex(8))
            return self._commit(new, mode, None, releases=list(releases))

    def set_shares(self, shares: Mapping[str, float], decision: Mapping[str, Any]) -> Plan:
        """New shares for the running bandit's arms, with the decision that chose them."""
        with self._locked():
            plan = self._started()
            if plan.mode != "bandit":
                raise RolloutError(
                    f"No bandit is running on {self.root} (mode {plan.mode}): start one with "
                    "`staticml bandit start RELEASE RELEASE ...`."
                )
            if set(shares) != set(plan.shares()):
                raise RolloutError(f"Shares {dict(shares)} are not for the arms {plan.shares()}.")
            routes = routes_from((r.release, shares[r.release]) for r in plan.routes)
            return self._commit(plan.next(routes=routes), "bandit-update", None, decision=decision)

    def collect(self, keep: int = DEFAULT_KEEP) -> list[str]:
        """Delete releases beyond the `keep` newest that nothing references; the deleted ids."""
        with self._locked():
            return self._collect(keep)

    # --- internals -------------------------------------------------------------------------

    def _started(self) -> Plan:
        plan = self.state()
        if plan.stable is None:
            raise RolloutError(
                f"{self.root} has no release yet: run `staticml release BUILD_DIR --site {self.root}`."
            )
        return plan

    def _require(self, release: str) -> None:
        check_release_id(release)
        if not (self.root / RELEASES / release).is_dir():
            known = ", ".join(self.releases()) or "none"
            raise RolloutError(
                f"Release {release} is not in {self.root} (releases: {known}); add it with "
                f"`staticml release BUILD_DIR --site {self.root}`."
            )

    def _commit(self, plan: Plan, action: str, release: str | None, **detail: Any) -> Plan:
        _write_atomically(self.root / SITE_MANIFEST, _json_bytes(plan.to_json()))
        self._record(action, release, plan, **detail)
        return plan

    def _record(self, action: str, release: str | None, plan: Plan, **detail: Any) -> None:
        entry = {
            "action": action,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "release": release,
            **detail,
            "plan": plan.to_json(),
        }
        _write_atomically(self.root / HISTORY, _json_bytes([*self.history(), entry]))

    def _write_router(self) -> None:
        """The router page, its script and the modules that imports, each under its hash at
        the site's root, which the page's import map resolves and checks."""
        modules = []
        for path in (ROUTER_SOURCE, *ROUTER_MODULES):
            source = (site_root() / path).read_bytes()
            digest = sha256_hex(source)
            name = hashed_name(Path(path).name, digest)
            if not (self.root / name).is_file():
                _write_atomically(self.root / name, source)
            modules.append((Path(path).name, name, digest))
        (_, script, digest), *_ = modules
        modules_map = import_map(modules)
        page = ROUTER_HTML.format(
            policy=policy_element(scripts=[script_hash(modules_map)]),
            importmap=element(modules_map),
            src=script,
            integrity=integrity(digest),
        )
        _write_atomically(self.root / ROUTER_PAGE, page.encode("utf-8"))

    def _collect(self, keep: int) -> list[str]:
        if keep < 1:
            raise RolloutError(f"--keep {keep}: keep at least one release.")
        releases = self.releases()
        kept = set(releases[-keep:]) | self.state().releases()
        target = self.rollback_target()
        if target:
            kept.add(target)
        removed = [r for r in releases if r not in kept]
        for release in removed:
            _remove(self.root / RELEASES / release)
        used = set().union(*(runtime_folders(read_bundle(self.root / RELEASES / r)) for r in kept))
        for folder in (self.root / RUNTIME).glob("*"):
            if f"{RUNTIME}/{folder.name}" not in used and not folder.name.startswith("."):
                _remove(folder)
        return removed

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self.root.exists() and not self.root.is_dir():
            raise RolloutError(f"{self.root} is not a folder; choose another --site.")
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def router_scripts(page: Path) -> list[str]:
    """The hashes of the router page's inline scripts (its import map), for the Content
    Security Policy: read from the page a site has, which a command of any staticml version
    may have written."""
    try:
        return import_maps_in(page.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise RolloutError(f"{page} cannot be read ({exc}).") from exc


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1) + "\n").encode("utf-8")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside, flush to disk, then rename over: readers see the old or the new file."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove(folder: Path) -> None:
    """Rename out of the served tree first, so a half-deleted release is never visible."""
    trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(4)}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
