"""`staticml serve`: a static server with everything a staticml site needs.

Correct MIME types (`.wasm`, `.mjs`, `.whl`, `.onnx`), COOP/COEP/CSP on every response, the
build's precompressed brotli/gzip variants, and `immutable` caching exactly for the
content-hashed assets that `bundle.json` lists (everything else revalidates). A site of
releases (`staticml release`) is served by the rules of `staticml.rollout.hosting`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from staticml.errors import StaticMLError
from staticml.headers import file_headers, origin_of, security_headers
from staticml.rollout.hosting import SitePolicy, is_site
from staticml.stages.manifest import MANIFEST

log = logging.getLogger("staticml.serve")

_VARIANTS = (("br", ".br"), ("gzip", ".gz"))


def create_app(root: Path | str, content_types: Mapping[str, str] | None = None) -> Starlette:
    """An ASGI app serving the built site in `root`.

    `content_types` overrides the MIME type of suffixes (tests use it to play a misconfigured host).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise StaticMLError(
            f"Cannot serve {root}: no such folder. Build first: staticml build APP_DIR -o {root}"
        )
    policy = SitePolicy(root) if is_site(root) else _build_policy(root)
    overrides = dict(content_types or {})

    async def handle(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        target = _resolve(root, relative)
        base_headers = security_headers(policy.collectors())
        if target is None:
            return PlainTextResponse("Not found\n", status_code=404, headers=base_headers)
        served = target.relative_to(root).as_posix()
        connect = policy.collectors()
        headers = file_headers(target.name, immutable=policy.immutable(served), connect=connect)
        media_type = overrides.get(target.suffix, headers.pop("Content-Type"))
        variant, encoding = _negotiate(target, request.headers.get("accept-encoding", ""))
        if encoding:
            headers["Content-Encoding"] = encoding
        if variant is not target or _has_variants(target):
            headers["Vary"] = "Accept-Encoding"
        return FileResponse(variant, headers=headers, media_type=media_type)

    routes = [Route("/{path:path}", handle, methods=["GET", "HEAD"])]
    return Starlette(routes=routes)


class _Policy(Protocol):
    def immutable(self, served: str) -> bool: ...

    def collectors(self) -> list[str]: ...


@dataclass(frozen=True)
class _BuildPolicy:
    hashed: frozenset[str]
    collector: str | None

    def immutable(self, served: str) -> bool:
        return served in self.hashed

    def collectors(self) -> list[str]:
        return [origin_of(self.collector)] if self.collector else []


def _build_policy(root: Path) -> _Policy:
    return _BuildPolicy(*_from_manifest(root))


def _from_manifest(root: Path) -> tuple[frozenset[str], str | None]:
    """The content-hashed paths (cached forever) and the collector URL the pages send to."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        log.warning("%s has no %s: serving every file with Cache-Control: no-cache", root, MANIFEST)
        return frozenset(), None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        immutable = frozenset(
            path for path, meta in data["assets"].items() if meta.get("immutable")
        )
        return immutable, (data.get("monitor") or {}).get("collector")
    except (ValueError, KeyError, AttributeError) as exc:
        raise StaticMLError(
            f"{manifest} is not a valid staticml manifest ({exc}); rebuild the site."
        ) from exc


def _resolve(root: Path, relative: str) -> Path | None:
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def _negotiate(target: Path, accept_encoding: str) -> tuple[Path, str | None]:
    accepted = {part.split(";")[0].strip().lower() for part in accept_encoding.split(",")}
    for encoding, suffix in _VARIANTS:
        variant = target.with_name(target.name + suffix)
        if encoding in accepted and variant.is_file():
            return variant, encoding
    return target, None


def _has_variants(target: Path) -> bool:
    return any(target.with_name(target.name + suffix).is_file() for _, suffix in _VARIANTS)


def serve(root: Path | str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `root` until interrupted."""
    import uvicorn

    app = create_app(root)
    print(f"Serving {Path(root).resolve()} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
