"""Two releases of the wine example for the rollout tests, built once per session.

Release A is the example as it ships; release B is the same model with two class names
swapped (a label-mapping bug a shadow comparison must catch: it disagrees on cultivars 1
and 2, agrees on 3). Both send rollout summaries to a collector on `collector_port`, after
5 events (the smallest k the configuration allows), as soon as they are ready.
"""

from __future__ import annotations

import csv
import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import staticml
from tests.support import ROOT

WINE = ROOT / "examples" / "wine"
CLASSES = 'classes = ["cultivar 1", "cultivar 2", "cultivar 3"]'
SWAPPED = 'classes = ["cultivar 2", "cultivar 1", "cultivar 3"]'
MONITOR = 'reference_file = "reference.csv"\n'
# Test releases, not the example as it ships: brotli at a quick quality (the README's demo build
# makes the highest-quality runtime files for the suite).
QUICK_BUILD = "\n[build]\nbrotli_quality = 5\n"


@dataclass(frozen=True)
class Releases:
    a: Path
    b: Path
    collector_port: int


def build_release(root: Path, name: str, port: int, *, swap: bool) -> Path:
    app = root / f"wine-{name}"
    shutil.copytree(WINE, app)
    config = app / "staticml.toml"
    text = config.read_text()
    assert MONITOR in text and CLASSES in text
    text = text.replace(
        MONITOR,
        MONITOR + f'collector = "http://127.0.0.1:{port}"\nmin_predictions = 5\n'
        "interval_minutes = 0\n",
    )
    text = text.replace(
        'title = "Which cultivar made this wine?"', f'title = "Wine release {name}"'
    )
    if swap:
        text = text.replace(CLASSES, SWAPPED)
    config.write_text(text + QUICK_BUILD)
    return staticml.build(app, root / f"build-{name}", compress="off").out_dir


def sample_records() -> list[dict[str, float]]:
    with (WINE / "samples.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: float(v) for k, v in row.items() if k != "label"} for row in rows]


def post_feedback(collector: str, release: str, right: int, wrong: int) -> int:
    """Post a rollout summary of "Was this right?" answers, as a page does; the HTTP status."""
    body = {
        "v": 1,
        "release": release,
        "hour": datetime.now(UTC).strftime("%Y-%m-%dT%H"),
        "shadow": None,
        "feedback": {"right": right, "wrong": wrong},
    }
    request = urllib.request.Request(
        collector.rstrip("/") + "/v1/rollout",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()  # it holds the response, and so the socket
        return error.code
