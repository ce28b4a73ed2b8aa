"""The benchmark's servers: every page on 127.0.0.1, each counting the bytes it sends.

- the staticml site, exactly as `staticml serve` serves it (precompressed variants, headers);
- baseline 1, the pure-JavaScript page, served the same way, with the site's own onnxruntime-web
  files and model (and their brotli/gzip variants), cached forever like the site's;
- baseline 3, a page calling a FastAPI endpoint that runs the bundle in CPython.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.hashing import sha256_hex
from staticml.headless import serving_app
from staticml.runtime.contract import ListedAsset, ReleaseListing
from staticml.serve import create_app

BASELINES = Path(__file__).resolve().parent / "baselines"


class ByteCounter:
    """ASGI middleware adding up the response body bytes sent (as encoded on the wire)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                self.sent += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)


@dataclass
class Served:
    name: str
    url: str
    counter: ByteCounter
    service_worker: bool = False
    # A site of releases: its root is the router, which opens a release's page.
    routed: bool = False


@contextlib.contextmanager
def served(
    name: str, app: Any, *, service_worker: bool = False, routed: bool = False
) -> Iterator[Served]:
    counter = ByteCounter(app)
    with serving_app(counter) as origin:
        yield Served(name, origin, counter, service_worker, routed)


def js_baseline(site: Path, folder: Path) -> Path:
    """Lay out baseline 1 in `folder` from the built `site`: same model, same runtime files."""
    manifest = json.loads((site / "bundle.json").read_text())
    model = manifest["predict"]["model"]
    ort = next(p for p in manifest["assets"] if p.endswith("/ort.wasm.min.mjs")).rsplit("/", 1)[0]
    (folder / "ort").mkdir(parents=True)
    for source in (site / ort).iterdir():
        shutil.copyfile(source, folder / "ort" / source.name)
    for source in (site / model["url"]).parent.glob(Path(model["url"]).name + "*"):
        shutil.copyfile(source, folder / source.name.replace(Path(model["url"]).name, "model.onnx"))
    for name in ("page.mjs", "preprocess.mjs"):
        shutil.copyfile(BASELINES / "js" / name, folder / name)
    plan = {key: model[key] for key in ("input", "nFeatures", "label", "probabilities")}
    plan |= {
        "classes": model["classes"],
        "classValues": model["classValues"],
        "model": "model.onnx",
    }
    page = (BASELINES / "js" / "index.html").read_text().replace("{{PLAN}}", json.dumps(plan))
    (folder / "index.html").write_text(page)
    # Cached like the site's content-addressed files; the page itself revalidates.
    files = [p for p in folder.rglob("*") if p.is_file()]
    assets = {
        p.relative_to(folder).as_posix(): ListedAsset(
            kind="baseline",
            size=p.stat().st_size,
            sha256=sha256_hex(p.read_bytes()),
            immutable=p.name != "index.html",
        )
        for p in files
    }
    ReleaseListing(release="js-baseline", assets=assets).write(folder)
    return folder


def api_pages(folder: Path) -> Path:
    """Baseline 3's page and script (the server adds `POST /predict`)."""
    folder.mkdir(parents=True)
    for name in ("index.html", "page.mjs"):
        shutil.copyfile(BASELINES / "api" / name, folder / name)
    ReleaseListing(release="api-baseline", assets={}).write(folder)
    return folder


def site_app(site: Path) -> Any:
    return create_app(site)


@contextlib.contextmanager
def beside_pure_js(site: Path) -> Iterator[dict[str, Any]]:
    """The built site and the pure-JavaScript page of the same model, served side by side:
    {"staticml": ..., "pure JS": ...}, each as `served` gives it."""
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        js = js_baseline(site, Path(work) / "js")
        yield {
            "staticml": stack.enter_context(served("staticml", site_app(site))),
            "pure JS": stack.enter_context(served("pure JS", site_app(js))),
        }
