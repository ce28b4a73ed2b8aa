"""The build: small stages from the app config to a folder of static files.

    config ─ fetch_dependencies ─ pack_wheels ─ check_browser_imports ─ make_snapshot
           ─ load_model ─ compress_model ─ reference_predictions ─ vendor runtimes ─ web_manifest
           ─ split_large ─ page_config/render_page ─ service_worker ─ precompress
           ─ bundle_manifest ─ hosting_files ─ check_file_sizes ─ write_site

Each stage takes typed inputs and returns a frozen dataclass (or Assets); only `write_site`
touches the output folder. The runtimes and the snapshot do not depend on the model, so their
precompression (`precompress_ahead`) runs beside the model's stages. The model report
(`model.json`, `model.html`) is written beside the release but is not part of it: it records
this build's time and timings. So are the hosting configs (`_headers`, `nginx.conf`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from staticml.cache import default_cache_dir
from staticml.config import AppConfig
from staticml.errors import ConfigError
from staticml.headers import origin_of
from staticml.importmap import script_hash
from staticml.progress import Reporter, SilentReporter
from staticml.runtime.contract import MANIFEST, REPORT_JSON, REPORT_PAGE
from staticml.runtime_cache import find_runtimes
from staticml.runtimes import Runtimes
from staticml.site import site_files, site_root
from staticml.stages import assets as make
from staticml.stages.assets import Asset
from staticml.stages.compress import compress_model
from staticml.stages.dependencies import fetch_dependencies
from staticml.stages.hosting import hosting_files
from staticml.stages.limits import MIB, check_file_sizes, shipped, split_large
from staticml.stages.manifest import bundle_manifest, release_id
from staticml.stages.model import ModelArtifact, load_model
from staticml.stages.monitoring import monitoring_baseline
from staticml.stages.offline import WEB_MANIFEST, service_worker, web_manifest
from staticml.stages.page import (
    SNAPSHOT,
    page_config,
    page_import_map,
    render_page,
    template_source,
    wheel_key,
)
from staticml.stages.precompress import Encoded, precompress, precompress_ahead
from staticml.stages.purity import check_browser_imports
from staticml.stages.reference import SampleSet, reference_predictions
from staticml.stages.report import render_report, report_json
from staticml.stages.snapshot import make_snapshot
from staticml.stages.wheels import Wheels, pack_wheels
from staticml.stages.write import write_site
from staticml.version import __version__

if TYPE_CHECKING:
    from staticml.verify import Verification

log = logging.getLogger("staticml.build")


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    release: str
    assets: tuple[Asset, ...]
    encoded: dict[str, tuple[Encoded, ...]]
    samples: int
    kind: str
    model_report: dict[str, Any]
    verification: Verification | None = None
    skipped: tuple[str, ...] = ()  # the browser steps a --no-browser build left out

    @property
    def raw_bytes(self) -> int:
        return sum(a.size for a in self.assets)

    def served_bytes(self, encoding: str) -> int:
        """Total bytes a client downloads when every asset comes in `encoding` where available."""
        return sum(self._encoded_size(a, encoding) for a in self.assets)

    def _encoded_size(self, asset: Asset, encoding: str) -> int:
        sizes = [len(e.data) for e in self.encoded.get(asset.path, ()) if e.encoding == encoding]
        return min(sizes, default=asset.size)


def build_app(
    config: AppConfig,
    out_dir: Path,
    *,
    node_modules: Path | None = None,
    cache_dir: Path | None = None,
    reporter: Reporter | None = None,
    verify: bool = False,
    browser: bool = True,
) -> BuildResult:
    """Build the app into `out_dir` (replaced atomically) and return what was written.

    With `verify`, the built site is then run in headless Chromium (see `staticml.verify`).
    Without `browser`, no step runs Chromium; `BuildResult.skipped` says what that left out.
    """
    skipped: tuple[str, ...] = ()
    if not browser:
        if verify:
            raise ConfigError(
                "--verify runs the built site in Chromium, which --no-browser rules out: drop "
                "one of them (`staticml verify SITE` checks a site later, where Chromium is)."
            )
        config, skipped = without_browser(config)
    report = reporter or SilentReporter()
    try:
        result = _build(config, Path(out_dir), node_modules, cache_dir, report)
        result = dataclasses.replace(result, skipped=skipped)
        if verify:
            from staticml.verify import verify_site  # Playwright is only needed for this

            report.stage("Verifying in headless Chromium")
            result = dataclasses.replace(result, verification=verify_site(result.out_dir))
        return result
    finally:
        report.finish()


def without_browser(config: AppConfig) -> tuple[AppConfig, tuple[str, ...]]:
    """`config` with the steps that run Chromium turned off, and what each left out."""
    skipped = []
    if config.compress.mode != "off":
        skipped.append(
            f"shipped uncompressed (compress.mode = {config.compress.mode!r} measures the "
            "variants in Chromium)"
        )
        compress = dataclasses.replace(config.compress, mode="off")
        config = dataclasses.replace(config, compress=compress)
    if config.runtime.snapshot:
        skipped.append("no Python snapshot (the page starts Python without one, more slowly)")
        runtime = dataclasses.replace(config.runtime, snapshot=False)
        config = dataclasses.replace(config, runtime=runtime)
    skipped.append("not verified in a browser (`staticml verify SITE` does it where Chromium is)")
    return config, tuple(skipped)


def _build(
    config: AppConfig,
    out_dir: Path,
    node_modules: Path | None,
    cache_dir: Path | None,
    report: Reporter,
) -> BuildResult:
    report.stage("Packing the preprocessing and browser runtime as wheels")
    wheels = pack_wheels(config, fetch_dependencies(config))
    check_browser_imports(wheels.app_sources, wheels.importable(), config.app_dir)

    cache = cache_dir or default_cache_dir()
    runtimes = find_runtimes(node_modules, cache, report)
    snapshot = None
    if config.runtime.snapshot:
        report.stage("Making the Pyodide snapshot in headless Chromium")
        snapshot = make.runtime_file(
            "python",
            "python.snapshot",
            make_snapshot(wheels, runtimes.pyodide, cache),
            "snapshot",
        )
    limit = config.build.max_file_mib * MIB
    parts = split_large(filter(None, [snapshot]), limit)
    unchanging = [
        *(a for r in runtimes.all() for a in make.runtime_assets(r)),
        *shipped(filter(None, [snapshot]), parts),
    ]
    precompress_ahead(unchanging, config.build.brotli_quality, cache)

    report.stage(
        "Training the model and converting it to ONNX"
        if config.model.train
        else f"Loading {config.model.file.name if config.model.file else 'the model'}"
    )
    model = load_model(config, cache)

    report.stage(
        "Measuring the model (compression off)"
        if config.compress.mode == "off"
        else "Compressing the model: every variant measured in CPython and in Chromium"
    )
    compression = compress_model(config, model, wheels, runtimes.ort, cache)
    model = compression.model

    report.stage("Computing reference predictions and the monitoring baseline in CPython")
    samples = reference_predictions(config, model, wheels)

    monitor = monitoring_baseline(config, model, wheels, compression.confidence)

    report.stage("Vendoring Pyodide and onnxruntime-web")
    site = site_root()
    named = _named_assets(model, wheels, samples, runtimes, site)
    if snapshot is not None:
        named[SNAPSHOT] = snapshot
    named[WEB_MANIFEST] = web_manifest(config, named["static/icon.svg"])
    if monitor is not None:
        named["baseline.json"] = make.from_bytes(
            "data/baseline.json", monitor.baseline_json(), "baseline"
        )

    page_source = template_source(config, site).read_text(encoding="utf-8")
    release = release_id(named.values(), page_source + config_text(config))
    page = page_config(config, model, named, release, monitor, report=REPORT_PAGE, parts=parts)
    html = render_page(config, page, named, site)
    scripts = [script_hash(page_import_map(named))]  # the page's one inline script
    page_file = make.from_bytes("index.html", html, "page", hashed=False)
    release_files = shipped([*named.values(), page_file], parts)
    everything = [*release_files, service_worker(release, release_files, site)]
    model_report = {**compression.report, "release": release}
    records = {
        REPORT_JSON: report_json(model_report),
        REPORT_PAGE: render_report(
            model_report, named["static/style.css"], named["static/icon.svg"], site
        ),
    }

    report.stage("Precompressing (gzip, brotli)", total=len(everything))
    lock = threading.Lock()

    def advance(_: Asset) -> None:
        with lock:
            report.advance()

    encoded = precompress(everything, config.build.brotli_quality, cache, advance)
    manifest = bundle_manifest(
        config, release, everything, encoded, page, report=REPORT_JSON, scripts=scripts
    )
    records |= hosting_files(
        [*(a.path for a in everything), *records, MANIFEST],
        frozenset(a.path for a in everything if a.immutable),
        [origin_of(config.monitor.collector)] if config.monitor.collector else [],
        scripts,
    )

    check_file_sizes(everything, encoded, {**records, MANIFEST: manifest}, limit)
    report.stage(f"Writing {out_dir}")
    write_site(out_dir, everything, encoded, manifest, records)
    log.info("built release %s into %s", release, out_dir)
    return BuildResult(
        out_dir.resolve(),
        release,
        tuple(everything),
        encoded,
        len(samples.samples),
        model.kind,
        model_report,
    )


def _named_assets(
    model: ModelArtifact,
    wheels: Wheels,
    samples: SampleSet,
    runtimes: Runtimes,
    site: Path,
) -> dict[str, Asset]:
    named: dict[str, Asset] = {}
    for runtime in runtimes.all():
        for asset in make.runtime_assets(runtime):
            named[f"{runtime.spec.key}/{asset.path.rsplit('/', 1)[1]}"] = asset
    for served, path in site_files(site):
        named[served] = make.from_file(served, path, _site_kind(served))
    for position, wheel in enumerate(wheels.all()):
        named[wheel_key(position)] = make.from_bytes(
            f"wheels/{wheel.filename}", wheel.data, "wheel", keep_name=True
        )
    named["model.onnx"] = make.from_bytes("model/model.onnx", model.onnx, "model")
    if samples.samples:
        named["samples.json"] = make.from_bytes("data/samples.json", samples.to_json(), "samples")
    return named


def _site_kind(served: str) -> str:
    if served.startswith("wasm/"):
        return "worker"
    return {".js": "script", ".mjs": "script", ".css": "style"}.get(Path(served).suffix, "static")


def config_text(config: AppConfig) -> str:
    return __version__ + config.source.read_text(encoding="utf-8")
