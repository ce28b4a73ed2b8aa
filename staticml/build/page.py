"""Stage: the worker configuration and the rendered `index.html`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

import staticml
from staticml.build.assets import Asset
from staticml.build.model import ModelArtifact
from staticml.config import AppConfig
from staticml.errors import AssetError
from staticml.hashing import integrity
from staticml.runtimes import ONNXRUNTIME_WEB, PYODIDE

PAGE_TEMPLATE = "index.html"


def page_config(
    config: AppConfig, model: ModelArtifact, assets: Mapping[str, Asset], release: str
) -> dict[str, Any]:
    """The one JSON object the page script and its worker are configured by.

    `assets` maps logical names (`static/app.js`, `model.onnx`, `pyodide/pyodide.mjs`, ...) to
    the built assets. URLs are relative to the page, so a site works under any path prefix.
    """
    pyodide_dir = _folder(assets["pyodide/pyodide.mjs"])
    ort_dir = _folder(assets["ort/ort.wasm.min.mjs"])
    fetched = [
        assets[name]
        for name in (
            "pyodide/pyodide.asm.wasm",
            "pyodide/python_stdlib.zip",
            "pyodide/pyodide-lock.json",
            "ort/ort-wasm-simd-threaded.wasm",
            "wheel/runtime",
            "wheel/app",
            "model.onnx",
        )
    ]
    return {
        "app": {"name": config.name, "title": config.title},
        "release": release,
        "staticml": staticml.__version__,
        "bootTimeoutMs": int(config.runtime.boot_timeout * 1000),
        "worker": assets["wasm/worker.mjs"].path,
        "samples": assets["samples.json"].path if "samples.json" in assets else None,
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "label": f.label,
                "description": f.description,
                "canvasSize": f.canvas_size,
            }
            for f in config.fields
        ],
        "runtime": {
            "pyodide": {
                "version": PYODIDE.version,
                "indexURL": pyodide_dir,
                "module": assets["pyodide/pyodide.mjs"].path,
            },
            "ort": {
                "version": ONNXRUNTIME_WEB.version,
                "module": assets["ort/ort.wasm.min.mjs"].path,
                "wasmPaths": ort_dir,
                "wasm": assets["ort/ort-wasm-simd-threaded.wasm"].path,
                "threads": config.runtime.threads,
            },
            "wheels": [assets["wheel/runtime"].path, assets["wheel/app"].path],
            "python": config.runtime_spec(),
            "model": {
                "url": assets["model.onnx"].path,
                "sha256": assets["model.onnx"].sha256,
                "input": model.input_name,
                "nFeatures": model.n_features,
                "label": model.label_output,
                "probabilities": model.probabilities_output,
                "classes": list(model.classes),
            },
            "assets": {a.path: {"size": a.size, "integrity": integrity(a.sha256)} for a in fetched},
        },
    }


def render_page(
    config: AppConfig, page: dict[str, Any], assets: Mapping[str, Asset], site: Path
) -> bytes:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(site),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    try:
        template = environment.get_template(PAGE_TEMPLATE)
    except jinja2.TemplateError as exc:
        raise AssetError(f"page template {site / PAGE_TEMPLATE} is unusable: {exc}") from exc
    html = template.render(
        app=config,
        page=page,
        staticml_version=staticml.__version__,
        style=_link(assets["static/style.css"]),
        script=_link(assets["static/app.js"]),
        icon=_link(assets["static/icon.svg"]),
    )
    return html.encode("utf-8")


def _link(asset: Asset) -> dict[str, str]:
    return {"url": asset.path, "integrity": integrity(asset.sha256)}


def _folder(asset: Asset) -> str:
    return asset.path.rsplit("/", 1)[0] + "/"
