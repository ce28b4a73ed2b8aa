"""The wine example's synthetic new data (examples/wine/new_wines.py), importable by tests."""

from __future__ import annotations

import importlib.util

from tests.support import ROOT

_PATH = ROOT / "examples" / "wine" / "new_wines.py"
_SPEC = importlib.util.spec_from_file_location("wine_new_wines", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
new_wines = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(new_wines)

WINE = new_wines.WINE
WINE_FEATURES = new_wines.WINE_FEATURES
wines = new_wines.wines
write_wines = new_wines.write_wines
NEW_WINES = WINE / "new-wines.csv"
