"""Renew, for this visit, what the build-time memory snapshot froze (see stages/snapshot.py).

The snapshot is made with a fixed clock and a fixed stream of "random" bytes, so every
visitor's interpreter starts with the same, publicly known state. `renew` replaces the parts
of it that must be the visitor's own before any of the app's functions run:

- the `random` module's shared generator, seeded at its import from those bytes: re-seeded
  from `os.urandom` (the browser's `crypto.getRandomValues`);
- `tempfile`'s name sequence (its own generator, made when the build unpacked the wheels):
  dropped, so the next temporary name comes from a new, freshly seeded one;
- the import system's directory listings (the `FileFinder` caches, stamped with the build's
  fixed clock): invalidated, since the app's package is unpacked after the snapshot was taken
  and is imported only now. Only those: `importlib.invalidate_caches()` would also make the
  zip importer re-read `python_stdlib.zip`, 100-300 ms in Chromium.

What it cannot renew: the str/bytes hash secret is fixed for the interpreter's life
(PYTHONHASHSEED=0 at build time); `random.Random()` objects or tokens the app's dependencies
made at import time stay as the build made them (the app's own modules are imported after
`renew`, in the visit); and `time.timezone`/`time.tzname`, read at `time`'s
import, keep the build's UTC (Pyodide has no `time.tzset`). `secrets`, `random.SystemRandom`,
`os.urandom` and `uuid.uuid4` read the browser's entropy on every call and are not affected.
"""

from __future__ import annotations

import random
import sys
import tempfile
from importlib.machinery import FileFinder


def renew() -> None:
    for finder in list(sys.path_importer_cache.values()):
        if isinstance(finder, FileFinder):
            finder.invalidate_caches()
    random.seed()
    # The next temporary name makes a new sequence with a generator of its own, freshly seeded.
    tempfile._name_sequence = None  # type: ignore[attr-defined]
