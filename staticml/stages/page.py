"""Stage: the page configuration and the rendered `index.html`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from staticml.config import AppConfig
from staticml.errors import AssetError
from staticml.hashing import integrity
from staticml.headers import origin_of, policy_element
from staticml.importmap import element, import_map, script_hash
from staticml.runtime.contract import (
    AppName,
    AssetCheck,
    ModelFile,
    OrtFiles,
    PageConfig,
    PageMonitor,
    PyodideFiles,
    ShownOutput,
    WorkerConfig,
    WorkerModules,
)
from staticml.runtimes import ONNXRUNTIME_WEB, PYODIDE
from staticml.stages.assets import Asset
from staticml.stages.model import ModelArtifact
from staticml.stages.monitoring import MonitorArtifact
from staticml.stages.offline import SERVICE_WORKER, WEB_MANIFEST
from staticml.templates import environment
from staticml.version import __version__

PAGE_TEMPLATE = "index.html"
WHEEL_PREFIX = "wheel/"
SNAPSHOT = "pyodide/snapshot"
# The runtime files the worker fetches besides the snapshot, the wheels and the model.
WORKER_FILES = (
    "pyodide/pyodide.mjs",
    "pyodide/pyodide.asm.mjs",
    "pyodide/pyodide.asm.wasm",
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
    "ort/ort.wasm.min.mjs",
    "ort/ort-wasm-simd-threaded.mjs",
    "ort/ort-wasm-simd-threaded.wasm",
    "static/checked-fetch.js",
    "wasm/batch.mjs",
    "wasm/python.mjs",
    "wasm/model.mjs",
)


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
    parts: Mapping[str, tuple[Asset, ...]] | None = None,
) -> PageConfig:
    """The one object the page script and its worker are configured by.

    `assets` maps logical names (`static/app.js`, `model.onnx`, `pyodide/pyodide.mjs`,
    `wheel/000`, ...) to the built assets; `parts` the path of each one split into parts
    (`staticml.stages.limits`) to its parts.
    """
    output = model.output_spec(config.output.target, config.output.unit)
    return PageConfig(
        app=AppName(config.app.name, config.app.title),
        release=release,
        staticml=__version__,
        boot_timeout_ms=int(config.runtime.boot_timeout * 1000),
        worker=assets["wasm/worker.mjs"].path,
        service_worker=SERVICE_WORKER,
        rollout=assets["static/rollout.js"].path,
        integrity={
            a.path: integrity(a.sha256)
            for name, a in assets.items()
            if name in ("wasm/worker.mjs", "static/rollout.js", "samples.json")
        },
        samples=assets["samples.json"].path if "samples.json" in assets else None,
        report=report,
        fields=tuple(f.spec() for f in config.input),
        output=output,
        batch=not any(f.type == "image" for f in config.input),
        monitor=_page_monitor(config, assets),
        runtime=worker_config(
            config, model, assets, output, _monitor_spec(config, monitor, release), parts or {}
        ),
    )


def worker_config(
    config: AppConfig,
    model: ModelArtifact,
    assets: Mapping[str, Asset],
    output: ShownOutput,
    monitor: dict[str, Any] | None,
    parts: Mapping[str, tuple[Asset, ...]],
) -> WorkerConfig:
    """What the worker fetches (each file with its size and integrity, a split file's parts in
    its place) and runs."""
    wheels = [assets[name] for name in sorted(assets) if name.startswith(WHEEL_PREFIX)]
    snapshot = assets.get(SNAPSHOT)
    samples = assets.get("samples.json")
    wholes = [
        *([snapshot] if snapshot else []),
        *(assets[name] for name in WORKER_FILES),
        *wheels,
        assets["model.onnx"],
        *([samples] if samples else []),
    ]
    fetched = [part for whole in wholes for part in parts.get(whole.path, (whole,))]
    pyodide = assets["pyodide/pyodide.mjs"]
    ort = assets["ort/ort.wasm.min.mjs"]
    python = dataclasses.replace(config.runtime_spec(model.spec()), output=output, monitor=monitor)
    return WorkerConfig(
        pyodide=PyodideFiles(
            version=PYODIDE.version,
            index_url=_folder(pyodide),
            module=pyodide.path,
            snapshot=snapshot.path if snapshot else None,
            asm=assets["pyodide/pyodide.asm.mjs"].path,
        ),
        ort=OrtFiles(
            version=ONNXRUNTIME_WEB.version,
            module=ort.path,
            glue=assets["ort/ort-wasm-simd-threaded.mjs"].path,
            wasm_paths=_folder(ort),
            wasm=assets["ort/ort-wasm-simd-threaded.wasm"].path,
            threads=config.runtime.threads,
        ),
        modules=WorkerModules(
            fetch=assets["static/checked-fetch.js"].path,
            batch=assets["wasm/batch.mjs"].path,
            python=assets["wasm/python.mjs"].path,
            model=assets["wasm/model.mjs"].path,
        ),
        wheels=tuple(wheel.path for wheel in wheels),
        python=python,
        model=ModelFile(
            url=assets["model.onnx"].path, sha256=assets["model.onnx"].sha256, spec=model.spec()
        ),
        assets={a.path: AssetCheck(size=a.size, integrity=integrity(a.sha256)) for a in fetched},
        samples=samples.path if samples else None,
        parts={
            whole.path: tuple(part.path for part in parts[whole.path])
            for whole in wholes
            if whole.path in parts
        },
    )


def _page_monitor(config: AppConfig, assets: Mapping[str, Asset]) -> PageMonitor | None:
    """What the page needs to send summaries; None when the app has no collector."""
    if not config.monitor.collector:
        return None
    return PageMonitor(
        collector=config.monitor.collector,
        endpoint=f"{config.monitor.collector}/v1/summaries",
        interval_minutes=config.monitor.interval_minutes,
        min_predictions=config.monitor.min_predictions,
        epsilon=config.monitor.epsilon,
        baseline=assets["baseline.json"].path if "baseline.json" in assets else None,
        epsilon_per_day=config.monitor.epsilon_per_day,
    )


def _monitor_spec(
    config: AppConfig, monitor: MonitorArtifact | None, release: str
) -> dict[str, Any] | None:
    if monitor is None or not config.monitor.collector:
        return None
    return monitor.runtime_spec(config, release)


def template_source(config: AppConfig, site: Path) -> Path:
    return config.page.template or site / PAGE_TEMPLATE


def page_import_map(assets: Mapping[str, Asset]) -> str:
    """The page's import map (`staticml.importmap`): every page module, `static/*.js`."""
    return import_map(
        (name, a.path, a.sha256)
        for name, a in assets.items()
        if name.startswith("static/") and name.endswith(".js")
    )


def render_page(
    config: AppConfig, page: PageConfig, assets: Mapping[str, Asset], site: Path
) -> bytes:
    source = template_source(config, site)
    modules = page_import_map(assets)
    try:
        template = environment((source.parent, site)).get_template(source.name)
        html = template.render(
            app=template_app(config),
            page=page.to_json(),
            staticml_version=__version__,
            style=_link(assets["static/style.css"]),
            csp=markupsafe.Markup(page_policy(config, modules)),
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
    _check_policy(html, page_policy(config, modules), source)
    return html.encode("utf-8")


def page_policy(config: AppConfig, modules: str) -> str:
    """The page's own Content Security Policy element (`staticml.headers.policy_element`):
    the policy of the headers, for hosts that send none."""
    collector = [origin_of(config.monitor.collector)] if config.monitor.collector else []
    return policy_element(collector, [script_hash(modules)])


def _check_policy(html: str, policy: str, source: Path) -> None:
    head = re.search(r"<head\b[^>]*>(.*?)</head>", html, re.S | re.I)
    loads = re.search(r"<(script|link|style)\b", head.group(1)) if head else None
    if (
        html.count(policy) != 1
        or not head
        or (loads and head.group(1).find(policy) > loads.start())
    ):
        raise AssetError(
            f"page template {source} must hold {{{{ csp }}}} once, in <head> before any script, "
            "stylesheet or link: it is the page's own Content Security Policy on hosts that "
            "send no headers, and it governs only what comes after it."
        )


class TemplateView:
    """An object as a page template sees it: its attributes, and the names given here."""

    def __init__(self, target: Any, **names: Any) -> None:
        self._target = target
        self.__dict__.update(names)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._target, name)


def template_app(config: AppConfig) -> TemplateView:
    """What a page template calls `app`: the config (`app.model`, `app.monitor`, ...) with the
    names index.html and the templates written for it use: the app's `name`, `title` and
    `description` (`[app]`), and its `fields` (`[[input]]`), each with `minimum` and `maximum`."""
    fields = tuple(TemplateView(f, minimum=f.min, maximum=f.max) for f in config.input)
    return TemplateView(
        config,
        name=config.app.name,
        title=config.app.title,
        description=config.app.description,
        fields=fields,
    )


def _link(asset: Asset) -> dict[str, str]:
    return {"url": asset.path, "integrity": integrity(asset.sha256)}


def _folder(asset: Asset) -> str:
    return asset.path.rsplit("/", 1)[0] + "/"
