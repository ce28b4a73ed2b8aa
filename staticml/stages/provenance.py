"""Where a shipped model comes from, for the model report: hashes of its sources and the build."""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from staticml.app_code import call, isolated_imports
from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.hashing import sha256_hex
from staticml.stages.model import ModelArtifact
from staticml.training import source_digest
from staticml.version import __version__


def provenance(config: AppConfig, model: ModelArtifact) -> dict[str, Any]:
    return {
        "source": model.origin,
        "source_sha256": source_digest(config),
        "original_sha256": sha256_hex(model.onnx),
        "training_data_sha256": _training_data_digest(config),
        "built": build_time().isoformat(timespec="seconds"),
        "staticml": __version__,
    }


def build_time() -> datetime.datetime:
    """Now, or the time `SOURCE_DATE_EPOCH` gives: the reproducible-builds convention by which
    two builds of the same sources say they were built at the same time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise BuildError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a time: set it to whole seconds since "
                "1970-01-01 UTC (for example `git log -1 --format=%ct`), or unset it."
            ) from exc
    return datetime.datetime.now(datetime.UTC)


def _training_data_digest(config: AppConfig) -> str | None:
    entry = config.model.training_data
    if entry is None:
        return None
    with isolated_imports(config.app_dir):
        value = call(entry, "model.training_data", config.app_dir)
    return data_digest(value)


def data_digest(value: Any) -> str:
    """sha256 of bytes, or of arrays (or a mapping or sequence of them) with dtypes and shapes."""
    digest = hashlib.sha256()
    _feed(digest, value)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, bytes | bytearray):
        digest.update(bytes(value))
    elif isinstance(value, Mapping):
        for key in sorted(value):
            digest.update(str(key).encode("utf-8"))
            _feed(digest, value[key])
    elif isinstance(value, tuple | list) and not _is_numeric(value):
        for item in value:
            _feed(digest, item)
    else:
        array = np.ascontiguousarray(np.asarray(value))
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())


def _is_numeric(value: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float | str) for v in value)
