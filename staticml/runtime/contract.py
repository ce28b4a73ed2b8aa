"""The build's contract with everything that reads what it wrote: one typed record per file part.

The build (`staticml.stages`) writes the page's configuration (with the worker's part,
`runtime`) and `bundle.json`. The worker's Python, batch scoring, retrain evaluation, the
collector, rollout and `staticml serve` read them through these records, never a build stage.
Names map to JSON keys once, in `staticml.runtime.jsonable`; the model's outputs are
`OutputSpec`, which `staticml.runtime.prediction` owns with what turns them into predictions.
Standard library only: the runtime wheel ships this module and the browser reads the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from staticml.runtime.columns import ModelInput
from staticml.runtime.jsonable import FLAT, JsonRecord, key
from staticml.runtime.prediction import OutputSpec

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "REPORT_JSON",
    "REPORT_PAGE",
    "SERVICE_WORKER",
    "TOLERANCE",
    "AppName",
    "AssetCheck",
    "BundleManifest",
    "ListedAsset",
    "ModelFile",
    "ModelInput",
    "MonitorTarget",
    "OrtFiles",
    "OutputSpec",
    "PageConfig",
    "PageMonitor",
    "Predict",
    "PredictSpec",
    "PyodideFiles",
    "ReleaseListing",
    "ShownOutput",
    "WorkerConfig",
    "WorkerModules",
]

# How far the browser may be from CPython: probabilities absolutely, regression values relatively
# (the build's gate and --verify).
TOLERANCE = 1e-5

# The release's manifest: every asset with its size, hash and encodings, and how to run it.
MANIFEST = "bundle.json"
MANIFEST_FORMAT = 1
# The release's service worker, at the release's root: it caches exactly the release's files.
SERVICE_WORKER = "sw.js"
# The model report beside a release: its data and its page (records of a build, not listed in
# the manifest).
REPORT_JSON = "model.json"
REPORT_PAGE = "model.html"


@dataclass(frozen=True)
class ShownOutput(JsonRecord):
    """The model's outputs and how the page shows them: the target's name and unit."""

    spec: OutputSpec = field(metadata=FLAT)
    target: str = ""
    unit: str = ""

    @property
    def classifies(self) -> bool:
        return self.spec.classifies


@dataclass(frozen=True)
class PredictSpec(JsonRecord):
    """What `staticml.runtime.engine.Predictor` runs: the input fields, the preprocessing entry
    points (`module:function`), the feature count; in a page also the outputs and the
    monitor's baseline (`staticml.runtime.monitor.Monitor`). A model that takes the record's
    fields directly has no entry point but `inputs` (`staticml.runtime.columns`)."""

    entry: str | None
    n_features: int
    fields: tuple[dict[str, Any], ...]
    batch: str | None = None
    inputs: tuple[ModelInput, ...] = ()
    output: ShownOutput | None = None
    monitor: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelFile(JsonRecord):
    url: str
    sha256: str
    spec: OutputSpec = field(metadata=FLAT)


@dataclass(frozen=True)
class PyodideFiles(JsonRecord):
    version: str
    index_url: str = field(metadata=key("indexURL"))
    module: str = ""
    asm: str = ""
    snapshot: str | None = None


@dataclass(frozen=True)
class OrtFiles(JsonRecord):
    version: str
    module: str
    glue: str
    wasm_paths: str
    wasm: str
    threads: int = 1


@dataclass(frozen=True)
class AssetCheck(JsonRecord):
    size: int
    integrity: str


@dataclass(frozen=True)
class WorkerModules(JsonRecord):
    """The worker's own modules, fetched checked and imported at boot (`fetch` is the page's
    `static/checked-fetch.js` too)."""

    fetch: str
    batch: str
    python: str
    model: str


@dataclass(frozen=True)
class WorkerConfig(JsonRecord):
    """The worker's part of the page configuration: what it fetches, checked, and runs."""

    pyodide: PyodideFiles
    ort: OrtFiles
    modules: WorkerModules
    wheels: tuple[str, ...]
    python: PredictSpec
    model: ModelFile
    assets: dict[str, AssetCheck] = field(default_factory=dict)
    # The shipped samples, whose first one the worker rehearses at boot (wasm/python.mjs).
    samples: str | None = None
    # A file split under the hosts' per-file limit (staticml.stages.limits): its URL, which
    # names it in the configuration, to its parts' URLs, in order; `assets` lists the parts.
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AppName(JsonRecord):
    name: str
    title: str


@dataclass(frozen=True)
class PageMonitor(JsonRecord):
    """Where and how often the page sends its summaries."""

    collector: str
    endpoint: str
    interval_minutes: float
    min_predictions: int
    epsilon: float | None = None
    baseline: str | None = None
    epsilon_per_day: float | None = None


@dataclass(frozen=True)
class PageConfig(JsonRecord):
    """The one JSON object the page script and its worker are configured by. URLs are
    relative to the page, so a site works under any path prefix."""

    app: AppName
    release: str
    staticml: str
    boot_timeout_ms: int
    worker: str
    service_worker: str
    rollout: str
    integrity: dict[str, str]
    fields: tuple[dict[str, Any], ...]
    output: ShownOutput
    batch: bool
    runtime: WorkerConfig
    samples: str | None = None
    report: str | None = None
    monitor: PageMonitor | None = None


@dataclass(frozen=True)
class Predict(JsonRecord):
    """How to run the bundle outside the page: exactly what the worker runs."""

    wheels: tuple[str, ...]
    python: PredictSpec
    model: ModelFile

    @classmethod
    def of(cls, runtime: WorkerConfig) -> Predict:
        return cls(wheels=runtime.wheels, python=runtime.python, model=runtime.model)


@dataclass(frozen=True)
class ListedAsset(JsonRecord):
    kind: str
    size: int
    sha256: str
    immutable: bool = False
    encodings: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorTarget(JsonRecord):
    collector: str | None = None


@dataclass(frozen=True)
class BundleManifest(JsonRecord):
    """`bundle.json`: every asset with its size, hash and encodings, and how to run it."""

    format: int
    generator: str
    app: AppName
    release: str
    entry: str
    runtimes: dict[str, str]
    predict: Predict
    assets: dict[str, ListedAsset]
    monitor: MonitorTarget = field(default_factory=MonitorTarget)
    report: str | None = None
    scripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReleaseListing(JsonRecord):
    """What hosts and the collector read of `bundle.json`: the release, its files, where its
    pages send summaries and the hashes of the page's inline scripts (for the CSP)."""

    release: str
    assets: dict[str, ListedAsset]
    monitor: MonitorTarget = field(default_factory=MonitorTarget)
    scripts: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path) -> ReleaseListing:
        """The listing at `path`; OSError, ValueError, KeyError or TypeError if it is not one."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(self.to_json()), encoding="utf-8")

    @property
    def immutable(self) -> frozenset[str]:
        """The content-hashed paths, which hosts may cache forever."""
        return frozenset(path for path, asset in self.assets.items() if asset.immutable)
