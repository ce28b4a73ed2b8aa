"""The model registry of a site: every retraining's lineage entry and each release's estimator.

It lives beside the site, never inside it (a site is public; an estimator and its metrics are
not for visitors). `lineage.jsonl` is append-only, one JSON object per line, flushed and
fsynced before a command reports success, so a crash never leaves a half-written history.
Entries hold hashes, counts and metrics, never data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import BuildError

LINEAGE = "lineage.jsonl"
DECISIONS = "decisions.jsonl"


def default_registry(site: Path) -> Path:
    """`<site>.registry` beside the site: outside what gets uploaded to the CDN."""
    site = site.resolve()
    return site.with_name(f"{site.name}.registry")


@dataclass(frozen=True)
class Registry:
    root: Path

    def model_path(self, release: str) -> Path:
        return self.root / "models" / f"{release}.joblib"

    def has_model(self, release: str) -> bool:
        return self.model_path(release).is_file()

    def keep_model(self, release: str, estimator_file: Path) -> None:
        target = self.model_path(release)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".part")
        shutil.copyfile(estimator_file, temporary)
        os.replace(temporary, target)

    def record(self, entry: dict[str, Any]) -> None:
        """Append a lineage entry (a retraining: published or refused)."""
        self._append(LINEAGE, entry)

    def decide(self, entry: dict[str, Any]) -> None:
        """Append a `staticml watch` decision with its reason."""
        self._append(DECISIONS, entry)

    def entries(self) -> list[dict[str, Any]]:
        return list(self._read(LINEAGE))

    def decisions(self) -> list[dict[str, Any]]:
        return list(self._read(DECISIONS))

    def chain(self, release: str) -> list[dict[str, Any]]:
        """The published entries from `release` back to the first retraining, newest first."""
        published = {e["release"]: e for e in self.entries() if e.get("release")}
        chain: list[dict[str, Any]] = []
        while release in published and len(chain) <= len(published):
            entry = published[release]
            chain.append(entry)
            release = entry["parent"]
        return chain

    def _append(self, name: str, entry: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True) + "\n"
        with (self.root / name).open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _read(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.root / name
        if not path.is_file():
            return
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise BuildError(
                        f"{path}, line {number}, is not a JSON object ({exc}); the registry was "
                        "edited by hand or damaged: restore it from a backup or remove the line."
                    ) from exc
