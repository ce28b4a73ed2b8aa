"""The releases a collector accepts from a live site: those present when it started, and any
release added to the site since, without a restart.

The site's releases folder is looked at again only when its modification time changes (a
release is added by renaming its finished folder into place, which changes it), and only when
a release is asked for that is not known yet, or the list of releases is read: an unknown id in
a summary costs one `stat`. A new release's baseline is saved in the store, as at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from staticml.baseline import Baseline
from staticml.collector.releases import load_bundle, parse_baselines
from staticml.errors import CollectorError

log = logging.getLogger("staticml.collector")


class LiveReleases(Mapping[str, Baseline]):
    """Baselines by release: `known` ones, plus every release folder under `folder`."""

    def __init__(
        self,
        known: Mapping[str, Baseline],
        folder: Path | None,
        save: Callable[[str, str], None],
    ) -> None:
        self._baselines = dict(known)
        self._folder, self._save = folder, save
        self._seen: int | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Read the releases folder again if it changed since the last look."""
        if self._folder is None:
            return
        try:
            changed = self._folder.stat().st_mtime_ns
        except OSError:
            return  # no release yet
        with self._lock:
            if changed == self._seen:
                return
            self._seen = changed
            for directory in sorted(self._folder.iterdir()):
                if directory.name.startswith(".") or directory.name in self._baselines:
                    continue
                self._add(directory)

    def _add(self, directory: Path) -> None:
        try:
            release, text = load_bundle(directory)
            baseline = parse_baselines({release: text})[release]
        except CollectorError as exc:
            log.warning("Release folder %s is not accepted: %s", directory, exc)
            return
        self._save(release, text)
        self._baselines[release] = baseline
        log.info("Accepting summaries of release %s, added to the site", release)

    def __getitem__(self, release: str) -> Baseline:
        if release not in self._baselines:
            self.refresh()
        return self._baselines[release]

    def __iter__(self) -> Iterator[str]:
        self.refresh()
        return iter(list(self._baselines))

    def __len__(self) -> int:
        self.refresh()
        return len(self._baselines)

    def __contains__(self, release: object) -> bool:
        if not isinstance(release, str):
            return False
        try:
            self[release]
        except KeyError:
            return False
        return True
