"""`staticml serve`: a static server with everything a staticml site needs.

Correct MIME types (`.wasm`, `.mjs`, `.whl`, `.onnx`), COOP/COEP/CSP on every response, the
build's precompressed brotli/gzip variants, and `immutable` caching exactly for the
content-hashed assets that `bundle.json` lists (everything else revalidates). A site of
releases (`staticml release`) is served by the rules of `staticml.rollout.hosting`.

Only public files inside the folder are served: a path is decoded strictly
(`staticml.request_path`), no dot name is served but `.well-known/`, and a file, a directory's
`index.html` or a precompressed copy whose symlinks lead out of the folder or into a dot name
does not exist as far as the site is concerned. Every other path is a 404 with the same
security headers, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from staticml.errors import StaticMLError
from staticml.headers import content_security_policy, file_headers, origin_of, security_headers
from staticml.request_path import raw_path_of, segments
from staticml.rollout.hosting import SitePolicy, is_site
from staticml.runtime.contract import MANIFEST, ReleaseListing

log = logging.getLogger("staticml.serve")


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
        connect, scripts = policy.collectors(), policy.scripts()
        target = _resolve(root, segments(raw_path_of(request.scope)))
        if target is None:
            return PlainTextResponse(
                "Not found\n", status_code=404, headers=security_headers(connect, scripts)
            )
        served = target.relative_to(root).as_posix()
        immutable = policy.immutable(served)
        headers = file_headers(target.name, immutable=immutable, connect=connect, scripts=scripts)
        media_type = overrides.get(target.suffix, headers.pop("Content-Type"))
        variants = _variants(root, target)
        variant, encoding = _negotiate(target, variants, request.headers.get("accept-encoding", ""))
        if encoding:
            headers["Content-Encoding"] = encoding
        if variants:
            headers["Vary"] = "Accept-Encoding"
        return FileResponse(variant, headers=headers, media_type=media_type)

    async def refuse(request: Request, error: HTTPException) -> Response:
        """What the router refuses by itself (another method, a target that is not a path)
        gets the site's headers too."""
        security = security_headers(policy.collectors(), policy.scripts())
        headers = {**security, **(error.headers or {})}
        return PlainTextResponse(
            f"{error.detail}\n", status_code=error.status_code, headers=headers
        )

    routes = [Route("/{path:path}", handle, methods=["GET", "HEAD"])]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: refuse},  # type: ignore[dict-item]
    )


class _Policy(Protocol):
    def immutable(self, served: str) -> bool: ...

    def collectors(self) -> list[str]: ...

    def scripts(self) -> list[str]: ...


@dataclass(frozen=True)
class _BuildPolicy:
    hashed: frozenset[str]
    collector: str | None
    inline: tuple[str, ...]

    def immutable(self, served: str) -> bool:
        return served in self.hashed

    def collectors(self) -> list[str]:
        return [origin_of(self.collector)] if self.collector else []

    def scripts(self) -> list[str]:
        return list(self.inline)


def _build_policy(root: Path) -> _Policy:
    return _BuildPolicy(*_from_manifest(root))


def _from_manifest(root: Path) -> tuple[frozenset[str], str | None, tuple[str, ...]]:
    """The content-hashed paths (cached forever), the collector URL the pages send to and the
    hashes of the page's inline scripts (its import map)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        log.warning("%s has no %s: serving every file with Cache-Control: no-cache", root, MANIFEST)
        return frozenset(), None, ()
    try:
        data = ReleaseListing.read(manifest)
        content_security_policy(scripts=data.scripts)  # a malformed hash is refused now
        return data.immutable, data.monitor.collector, data.scripts
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StaticMLError(
            f"{manifest} is not a valid staticml manifest ({exc}); rebuild the site."
        ) from exc


WELL_KNOWN = ".well-known"
_VARIANTS = (("br", ".br"), ("gzip", ".gz"))


def _resolve(root: Path, names: Sequence[str] | None) -> Path | None:
    """The file a request for `names` gets (a directory's `index.html`), or None."""
    if names is None or not _public(names):
        return None
    real = _real(root, root.joinpath(*names))
    if real is not None and real.is_dir():
        real = _real(root, real / "index.html")
    return real if real is not None and real.is_file() else None


def _real(root: Path, path: Path) -> Path | None:
    """`path` with every symlink followed, when that is inside `root` and public there. None
    also when the system cannot look it up (a name too long, a symlink loop): such a path
    names no file of the site."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if real != root and root not in real.parents:
        return None
    return real if _public(real.relative_to(root).parts) else None


def _public(names: Sequence[str]) -> bool:
    """No dot names: a build writes none, so `.git`, `.env` or an editor's backup in the folder
    were put there by something else and are not the site's. `.well-known/` at the top is the
    exception, being where a site publishes files for others to find (RFC 8615)."""
    return all(
        not name.startswith(".") or (index == 0 and name == WELL_KNOWN)
        for index, name in enumerate(names)
    )


def _variants(root: Path, target: Path) -> dict[str, Path]:
    """The precompressed copies of `target`, by encoding, held to the same rules as `target`."""
    found = {}
    for encoding, suffix in _VARIANTS:
        real = _real(root, target.with_name(target.name + suffix))
        if real is not None and real.is_file():
            found[encoding] = real
    return found


def _negotiate(
    target: Path, variants: Mapping[str, Path], accept_encoding: str
) -> tuple[Path, str | None]:
    accepted = {part.split(";")[0].strip().lower() for part in accept_encoding.split(",")}
    for encoding, _ in _VARIANTS:
        if encoding in accepted and encoding in variants:
            return variants[encoding], encoding
    return target, None


def serve(root: Path | str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `root` until interrupted."""
    import uvicorn

    app = create_app(root)
    print(f"Serving {Path(root).resolve()} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
