"""Stage: every model variant run in onnxruntime-web's wasm backend, in headless Chromium.

A variant CPython runs may still fail in the browser (an operator or data type the wasm build
lacks) or give other numbers there; only the browser can tell. A throw-away page with the
pinned onnxruntime-web files, the variants and the evaluation rows is served on 127.0.0.1
exactly as `staticml serve` serves a site (same headers, same CSP), and `bench.mjs` runs each
variant one row per call, as the page does, then in the batches of `measure.CHUNKINGS`, as
the page's CSV scorer does.

A process that builds again (`staticml serve --watch`) reuses a measurement whose inputs are
byte for byte the same (the variants, the feature rows, the model's outputs, the runtime
files): an edit that leaves the evaluation rows' features as they were (a page template, a
sample, a refactored preprocessing) does not start Chromium again. Any other edit measures anew.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from staticml.errors import BuildError
from staticml.runtime.contract import ReleaseListing
from staticml.runtimes import RuntimeFiles
from staticml.stages.measure import CHUNKINGS, Outputs, batches, output_names, outputs_from
from staticml.stages.model import ModelArtifact

BENCH = Path(__file__).resolve().parent.parent / "bench"
PURPOSE = (
    "compress.mode = 'auto' (which measures each model variant in the browser; "
    "--compress off ships the model unmeasured there)"
)
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class BrowserRun:
    name: str
    outputs: Outputs | None
    latency_ms: float | None
    error: str | None = None
    batches: dict[str, Outputs] = field(default_factory=dict)  # by chunking, as measure.run_batches


@dataclass(frozen=True)
class BrowserRuns:
    browser: str
    runs: dict[str, BrowserRun]


REMEMBERED = 4  # measurements kept per process
_measured: OrderedDict[str, BrowserRuns] = OrderedDict()
_lock = threading.Lock()


def run_in_browser(
    variants: Sequence[tuple[str, bytes]],
    model: ModelArtifact,
    features: np.ndarray,
    ort: RuntimeFiles,
) -> BrowserRuns:
    """Each variant's outputs on `features` and its median time per row, or why it failed."""
    key = _inputs_digest(variants, model, features, ort)
    with _lock:
        if key in _measured:
            _measured.move_to_end(key)
            return _measured[key]
    runs = _run_in_browser(variants, model, features, ort)
    with _lock:
        _measured[key] = runs
        while len(_measured) > REMEMBERED:
            _measured.popitem(last=False)
    return runs


def _inputs_digest(
    variants: Sequence[tuple[str, bytes]],
    model: ModelArtifact,
    features: np.ndarray,
    ort: RuntimeFiles,
) -> str:
    digest = hashlib.sha256()
    for name, data in variants:
        digest.update(f"{name}:{len(data)}:".encode() + data)
    rows = np.ascontiguousarray(features, dtype="<f4")
    digest.update(repr((model.spec(), rows.shape)).encode() + rows.tobytes())
    for path in ort.files:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _run_in_browser(
    variants: Sequence[tuple[str, bytes]],
    model: ModelArtifact,
    features: np.ndarray,
    ort: RuntimeFiles,
) -> BrowserRuns:
    with tempfile.TemporaryDirectory(prefix="staticml-bench-") as folder:
        plan = _lay_out(Path(folder), variants, model, features, ort)
        # Playwright's sync API refuses to run in a thread with a running asyncio loop (a
        # notebook's, or a test session's own Playwright): give it a thread of its own.
        with ThreadPoolExecutor(max_workers=1) as thread:
            version, results = thread.submit(_measure, Path(folder), plan).result()
    runs = {r["name"]: _browser_run(r, model) for r in results}
    return BrowserRuns(f"Chromium {version}", runs)


def _measure(folder: Path, plan: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    from staticml.headless import chromium, serving

    with serving(folder) as origin, chromium(PURPOSE, BuildError) as (browser, error):
        try:
            return _run(browser, origin, plan)
        except error as exc:
            raise BuildError(
                f"headless Chromium could not run the model variants: {exc}. "
                "Build with --compress off to ship the model unmeasured."
            ) from exc


def _lay_out(
    root: Path,
    variants: Sequence[tuple[str, bytes]],
    model: ModelArtifact,
    features: np.ndarray,
    ort: RuntimeFiles,
) -> dict[str, Any]:
    for name in ("index.html", "bench.mjs"):
        shutil.copyfile(BENCH / name, root / name)
    (root / "ort").mkdir()
    for path in ort.files:
        shutil.copyfile(path, root / "ort" / path.name)
    (root / "models").mkdir()
    for name, data in variants:
        (root / "models" / f"{name}.onnx").write_bytes(data)
    (root / "features.bin").write_bytes(np.ascontiguousarray(features, dtype="<f4").tobytes())
    ReleaseListing(release="measurement", assets={}).write(root)  # nothing here is immutable
    return {
        "features": "features.bin",
        "rows": int(features.shape[0]),
        "nFeatures": model.n_features,
        "input": model.input_name,
        "outputs": output_names(model),
        "variants": [{"name": name, "url": f"models/{name}.onnx"} for name, _ in variants],
        "chunkings": [
            {
                "name": chunking.describe(),
                "batches": [b.tolist() for b in batches(int(features.shape[0]), chunking)],
            }
            for chunking in CHUNKINGS
        ],
    }


def _run(browser: Any, origin: str, plan: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_SECONDS * 1000)
        page.goto(origin)
        page.wait_for_function("window.staticmlBench !== undefined")
        # One JSON string crosses faster than Playwright's value-by-value serialisation of
        # every row's outputs.
        results = page.evaluate(
            "async (plan) => JSON.stringify(await window.staticmlBench.run(plan))", plan
        )
        return browser.version, json.loads(results)
    finally:
        context.close()


def _browser_run(result: dict[str, Any], model: ModelArtifact) -> BrowserRun:
    if "error" in result:
        return BrowserRun(result["name"], None, None, result["error"])
    return BrowserRun(
        result["name"],
        outputs_from(model, result["outputs"]),
        float(result["latencyMs"]),
        batches={name: outputs_from(model, o) for name, o in result["batches"].items()},
    )
