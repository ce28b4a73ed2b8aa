"""Where the page template and its static files live (the checkout, or the installed package)."""

from __future__ import annotations

from pathlib import Path

from staticml.errors import AssetError

_PACKAGED = Path(__file__).parent / "_site"
_CHECKOUT = Path(__file__).resolve().parent.parent


def site_root() -> Path:
    """The folder holding `index.html`, `static/` and `wasm/`."""
    for root in (_PACKAGED, _CHECKOUT):
        if (root / "index.html").is_file() and (root / "wasm").is_dir():
            return root
    raise AssetError(
        f"staticml's page template was not found in {_PACKAGED} or {_CHECKOUT}; "
        "reinstall staticml (pip install -e . from the checkout)."
    )


# The router page's script belongs to a site of releases (staticml.rollout), not to a build.
SITE_ONLY = frozenset({"static/router.js"})


def site_files(root: Path) -> list[tuple[str, Path]]:
    """(served path, file) for every static file the page uses, in a stable order."""
    files = [
        p
        for folder in ("static", "wasm")
        for p in sorted((root / folder).rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in SITE_ONLY
    ]
    return [(p.relative_to(root).as_posix(), p) for p in files]
