"""New labelled data for retraining: loaded, fingerprinted and split into train and holdout.

The split is decided per record by a hash of its content, so the same record always lands on
the same side, whatever the file's order or what else it holds: a holdout row never becomes
training data on a later run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.record_errors import BadRow, bad_row, bad_rows
from staticml.records import labelled_items
from staticml.runtime.schema import RecordError, validate


@dataclass(frozen=True)
class Labelled:
    """Records with their labels, as written in the data file (CSV values are strings)."""

    records: tuple[dict[str, Any], ...]
    labels: tuple[Any, ...]

    @property
    def rows(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class NewData:
    path: Path
    sha256: str
    train: Labelled
    holdout: Labelled

    @property
    def rows(self) -> int:
        return self.train.rows + self.holdout.rows

    def fingerprint(self) -> dict[str, Any]:
        """What the lineage keeps of the data: never the data itself."""
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "rows": self.rows,
            "train_rows": self.train.rows,
            "holdout_rows": self.holdout.rows,
        }


def load_new_data(config: AppConfig, path: Path) -> NewData:
    where = f"--data {path}"
    if not path.is_file():
        raise BuildError(f"{where} does not exist: give a CSV or JSON file of labelled records.")
    if path.suffix.lower() not in (".csv", ".json"):
        raise BuildError(
            f"{where}: use a .csv file (one column per field plus the "
            f"{config.compress.label!r} column) or a .json list of {{'record', 'label'}} items."
        )
    items = labelled_items(path, config.compress.label, where)
    unlabelled = [i + 1 for i, item in enumerate(items) if item.get("label") in (None, "")]
    if unlabelled:
        raise BuildError(
            f"{where}: rows {_listed(unlabelled)} have no label; retraining needs every row "
            "labelled."
        )
    _check_records(config, items, where)
    train: list[dict[str, Any]] = []
    holdout: list[dict[str, Any]] = []
    for item in items:
        side = (
            holdout if _held_out(item["record"], item["label"], config.retrain.holdout) else train
        )
        side.append(item)
    if not train or not holdout:
        raise BuildError(
            f"{where} has {len(items)} rows: too few to both train on and hold out "
            f"{config.retrain.holdout:.0%} of them for the comparison; add more rows."
        )
    return NewData(path, _sha256(path), _labelled(train), _labelled(holdout))


def _check_records(config: AppConfig, items: list[dict[str, Any]], where: str) -> None:
    """Every row that is not a valid record of the app, reported at once before training."""
    fields = [field.spec() for field in config.input]
    bad: list[BadRow] = []
    for item in items:
        try:
            validate(item["record"], fields)
        except RecordError as exc:
            bad.append(bad_row(config, item["where"], exc))
    if bad:
        raise bad_rows(where, bad, len(items), "run staticml retrain again")


def _held_out(record: dict[str, Any], label: Any, share: float) -> bool:
    text = json.dumps([record, label], sort_keys=True, default=str).encode("utf-8")
    value = int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64
    return value < share


def _labelled(items: list[dict[str, Any]]) -> Labelled:
    return Labelled(tuple(i["record"] for i in items), tuple(i["label"] for i in items))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
