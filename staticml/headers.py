"""HTTP headers a staticml site needs, defined once for every server and hosting config."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


_SCRIPT_HASH = re.compile(r"sha256-[A-Za-z0-9+/]{43}=")


# Measured: Pyodide and onnxruntime-web both run under this policy with zero violations.
# Workers take their policy from their own script's response, so it goes on every response.
def content_security_policy(connect: Sequence[str] = (), scripts: Sequence[str] = ()) -> str:
    """The site's policy; `connect` adds origins the page may send to (its collector), `scripts`
    the `sha256-...` hashes of the inline scripts its pages hold (their import maps): no other
    inline script runs."""
    for script in scripts:
        if not _SCRIPT_HASH.fullmatch(script):
            raise ValueError(f"{script!r} is not the sha256 hash of an inline script")
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self' 'wasm-unsafe-eval'", *(f"'{s}'" for s in scripts)]),
            "worker-src 'self'",
            " ".join(["connect-src 'self'", *connect]),
            "style-src 'self'",
            "img-src 'self' data:",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()

# Directives a policy given in a `<meta>` cannot hold (browsers ignore them there): they are
# enforced only where the host sends the header.
HEADER_ONLY_DIRECTIVES = frozenset({"frame-ancestors", "report-uri", "sandbox"})


def meta_policy(connect: Sequence[str] = (), scripts: Sequence[str] = ()) -> str:
    """The site's policy as a page can carry it itself, for hosts that send no headers of their
    own (GitHub Pages): every directive of the header but those a `<meta>` cannot hold."""
    directives = content_security_policy(connect, scripts).split("; ")
    return "; ".join(d for d in directives if d.split(" ", 1)[0] not in HEADER_ONLY_DIRECTIVES)


def policy_element(connect: Sequence[str] = (), scripts: Sequence[str] = ()) -> str:
    """`meta_policy` as the `<meta http-equiv>` element, which must come before anything the
    page loads: it governs only what is parsed after it."""
    policy = html.escape(meta_policy(connect, scripts), quote=True)
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def security_headers(connect: Sequence[str] = (), scripts: Sequence[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(connect, scripts),
        # Cross-origin isolation lets onnxruntime-web use threads (SharedArrayBuffer).
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


SECURITY_HEADERS = security_headers()


def origin_of(url: str) -> str:
    """`https://host:port` of a URL (what CSP and CORS compare)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"


def content_type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name else ""
    return CONTENT_TYPES.get(suffix.lower(), DEFAULT_CONTENT_TYPE)


def file_headers(
    name: str, *, immutable: bool, connect: Sequence[str] = (), scripts: Sequence[str] = ()
) -> dict[str, str]:
    """Every header a host sends with the file `name`: `staticml serve`, `_headers` and the
    nginx snippet all come from here."""
    return {
        **security_headers(connect, scripts),
        "Cache-Control": CACHE_IMMUTABLE if immutable else CACHE_REVALIDATE,
        "Content-Type": content_type(name),
    }
