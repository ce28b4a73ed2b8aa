"""Synthetic data for the collector tests: a baseline, bundles and summaries that follow the contract.

The "wine" data has a numeric feature (alcohol), a categorical one (colour) and a numeric one
that is sometimes missing (acidity); the output is one of three labels. `shift` moves alcohol
and makes white wine common, which a drift report must notice.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from pathlib import Path

from staticml.baseline import Baseline, baseline_to_json, bin_index, compute_baseline
from staticml.hashing import sha256_hex

RELEASE = "06b3db358ae3"
HOUR = "2026-11-29T18"


def wine(rows: int, seed: int, shift: float = 0.0) -> tuple[dict[str, list[object]], list[object]]:
    rng = random.Random(seed)
    white = 0.3 + 0.5 * min(1.0, shift)
    columns: dict[str, list[object]] = {
        "alcohol": [round(rng.gauss(12.5 + shift, 0.8), 2) for _ in range(rows)],
        "colour": ["white" if rng.random() < white else "red" for _ in range(rows)],
        "acidity": [None if rng.random() < 0.05 else rng.uniform(2.8, 3.8) for _ in range(rows)],
    }
    output: list[object] = [rng.choice("012") for _ in range(rows)]
    return columns, output


@functools.cache
def wine_baseline() -> Baseline:
    columns, output = wine(2000, seed=1)
    return compute_baseline(columns, ("label", output))


def write_bundle(directory: Path, baseline: Baseline, release: str = RELEASE) -> Path:
    """A minimal built site: bundle.json listing one baseline asset."""
    data = (json.dumps(baseline_to_json(baseline)) + "\n").encode()
    path = f"data/baseline.{sha256_hex(data)[:12]}.json"
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / path).write_bytes(data)
    manifest = {
        "format": 1,
        "release": release,
        "assets": {path: {"kind": "baseline", "size": len(data), "sha256": sha256_hex(data)}},
    }
    (directory / "bundle.json").write_text(json.dumps(manifest))
    return directory


def summarise(
    baseline: Baseline,
    columns: dict[str, list[object]],
    output: Sequence[object],
    *,
    release: str = RELEASE,
    hour: str = HOUR,
) -> dict[str, object]:
    """The summary a page would send for these rows (what the browser side will compute)."""

    def counts(variable, values) -> dict[str, object]:
        bins = [0] * variable.bins
        missing = 0
        for value in values:
            index = bin_index(variable, value)
            if index is None:
                missing += 1
            else:
                bins[index] += 1
        return {"counts": bins, "missing": missing}

    return {
        "v": 1,
        "release": release,
        "hour": hour,
        "n": len(output),
        "features": {f.name: counts(f, columns[f.name]) for f in baseline.features},
        "output": counts(baseline.output, output),
        "dp": None,
    }


def wine_summary(rows: int = 25, seed: int = 7, shift: float = 0.0, **where) -> dict[str, object]:
    columns, output = wine(rows, seed, shift)
    return summarise(wine_baseline(), columns, output, **where)


def body(summary: object) -> bytes:
    return json.dumps(summary).encode()
