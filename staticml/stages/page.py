"""Stage: the page configuration and the rendered `index.html`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from staticml.config import AppConfig
from staticml.errors import AssetError
from staticml.hashing import integrity
from staticml.importmap import element, import_map
from staticml.runtimes import ONNXRUNTIME_WEB, PYODIDE
from staticml.stages.assets import Asset
from staticml.stages.model import ModelArtifact
from staticml.stages.monitoring import MonitorArtifact
from staticml.stages.offline import SERVICE_WORKER, WEB_MANIFEST
from staticml.version import __version__

PAGE_TEMPLATE = "index.html"
WHEEL_PREFIX = "wheel/"
SNAPSHOT = "pyodide/snapshot"


def wheel_key(position: int) -> str:
    """Logical name of the wheel installed at `position` (sorts in install order)."""
    return f"{WHEEL_PREFIX}{position:03d}"


def page_config(
    config: AppConfig,
    model: ModelArtifact,
    assets: Mapping[str, Asset],
    release: str,
    monitor: MonitorArtifact | None = None,
    report: str | None = None,
) -> dict[str, Any]:
    """The one JSON object the page script and its worker are configured by.

    `assets` maps logical names (`static/app.js`, `model.onnx`, `pyodide/pyodide.mjs`,
    `wheel/000`, ...) to the built assets. URLs are relative to the page, so a site works
    under any path prefix.
    """
    wheels = [assets[name] for name in sorted(assets) if name.startswith(WHEEL_PREFIX)]
    output = model.output_spec(config.output.target, config.output.unit)
    snapshot = assets.get(SNAPSHOT)
    fetched = [
        *([snapshot] if snapshot else []),
        assets["pyodide/pyodide.mjs"],
        assets["pyodide/pyodide.asm.mjs"],
        assets["pyodide/pyodide.asm.wasm"],
        assets["pyodide/python_stdlib.zip"],
        assets["pyodide/pyodide-lock.json"],
        assets["ort/ort.wasm.min.mjs"],
        assets["ort/ort-wasm-simd-threaded.mjs"],
        assets["ort/ort-wasm-simd-threaded.wasm"],
        assets["static/checked-fetch.js"],
        assets["wasm/batch.mjs"],
        *wheels,
        assets["model.onnx"],
    ]
    return {
        "app": {"name": config.name, "title": config.title},
        "release": release,
        "staticml": __version__,
        "bootTimeoutMs": int(config.runtime.boot_timeout * 1000),
        "worker": assets["wasm/worker.mjs"].path,
        "serviceWorker": SERVICE_WORKER,
        "rollout": assets["static/rollout.js"].path,
        # What the page itself fetches; the worker's files are in runtime.assets.
        "integrity": {
            a.path: integrity(a.sha256)
            for name, a in assets.items()
            if name in ("wasm/worker.mjs", "static/rollout.js", "samples.json")
        },
        "samples": assets["samples.json"].path if "samples.json" in assets else None,
        "report": report,
        "fields": [f.spec() for f in config.fields],
        "output": output,
        "batch": not any(f.type == "image" for f in config.fields),
        "monitor": _monitor_config(config, assets),
        "runtime": {
            "pyodide": {
                "version": PYODIDE.version,
                "indexURL": _folder(assets["pyodide/pyodide.mjs"]),
                "module": assets["pyodide/pyodide.mjs"].path,
                "snapshot": snapshot.path if snapshot else None,
                "asm": assets["pyodide/pyodide.asm.mjs"].path,
            },
            "ort": {
                "version": ONNXRUNTIME_WEB.version,
                "module": assets["ort/ort.wasm.min.mjs"].path,
                "glue": assets["ort/ort-wasm-simd-threaded.mjs"].path,
                "wasmPaths": _folder(assets["ort/ort.wasm.min.mjs"]),
                "wasm": assets["ort/ort-wasm-simd-threaded.wasm"].path,
                "threads": config.runtime.threads,
            },
            # The worker's modules, imported at boot (static/checked-fetch.js is the page's too).
            "modules": {
                "fetch": assets["static/checked-fetch.js"].path,
                "batch": assets["wasm/batch.mjs"].path,
            },
            "wheels": [wheel.path for wheel in wheels],
            "python": config.runtime_spec(model.n_features)
            | {"output": output, "monitor": _monitor_spec(config, monitor, release)},
            "model": {
                "url": assets["model.onnx"].path,
                "sha256": assets["model.onnx"].sha256,
                **model.spec().to_json(),
            },
            "assets": {a.path: {"size": a.size, "integrity": integrity(a.sha256)} for a in fetched},
        },
    }


def _monitor_config(config: AppConfig, assets: Mapping[str, Asset]) -> dict[str, Any] | None:
    """What the page needs to send summaries; None when the app has no collector."""
    if not config.monitor.collector:
        return None
    return {
        "collector": config.monitor.collector,
        "endpoint": f"{config.monitor.collector}/v1/summaries",
        "intervalMinutes": config.monitor.interval_minutes,
        "minPredictions": config.monitor.min_predictions,
        "epsilon": config.monitor.epsilon,
        "baseline": assets["baseline.json"].path if "baseline.json" in assets else None,
    }


def _monitor_spec(
    config: AppConfig, monitor: MonitorArtifact | None, release: str
) -> dict[str, Any] | None:
    if monitor is None or not config.monitor.collector:
        return None
    return monitor.runtime_spec(config, release)


def template_source(config: AppConfig, site: Path) -> Path:
    return config.page_template or site / PAGE_TEMPLATE


def page_import_map(assets: Mapping[str, Asset]) -> str:
    """The page's import map (`staticml.importmap`): every page module, `static/*.js`."""
    return import_map(
        (name, a.path, a.sha256)
        for name, a in assets.items()
        if name.startswith("static/") and name.endswith(".js")
    )


def render_page(
    config: AppConfig, page: dict[str, Any], assets: Mapping[str, Asset], site: Path
) -> bytes:
    source = template_source(config, site)
    modules = page_import_map(assets)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([source.parent, site]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    try:
        template = environment.get_template(source.name)
        html = template.render(
            app=config,
            page=page,
            staticml_version=__version__,
            style=_link(assets["static/style.css"]),
            importmap=markupsafe.Markup(element(modules)),
            script=_link(assets["static/app.js"]),
            rollout=_link(assets["static/rollout.js"]),
            # Preloaded side by side, rather than one import after another.
            modules=[
                _link(a)
                for name, a in sorted(assets.items())
                if name.startswith("static/") and name.endswith(".js") and name != "static/app.js"
            ],
            icon=_link(assets["static/icon.svg"]),
            webmanifest=_link(assets[WEB_MANIFEST]),
        )
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{source}:{line}" if line else str(source)
        raise AssetError(f"page template {where} cannot be rendered: {exc}") from exc
    if html.count(element(modules)) != 1 or html.count('type="importmap"') != 1:
        raise AssetError(
            f"page template {source} must hold {{{{ importmap }}}} once, before any module "
            "script: without it the page's modules are not found, and not checked."
        )
    return html.encode("utf-8")


def _link(asset: Asset) -> dict[str, str]:
    return {"url": asset.path, "integrity": integrity(asset.sha256)}


def _folder(asset: Asset) -> str:
    return asset.path.rsplit("/", 1)[0] + "/"
