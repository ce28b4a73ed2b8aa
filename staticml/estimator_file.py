"""A fitted estimator saved with `joblib.dump` or `pickle.dump`, whatever the file's suffix.

joblib writes numpy arrays after the pickle stream's opcodes (or compresses the whole file), so
`pickle.load` fails on its files, even one named `.pkl`; `joblib.load` reads both. The first
bytes tell a pickle or a joblib file from anything else, so a file that is neither is named as
such instead of surfacing as an unpickling error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from staticml.errors import StaticMLError

# Protocol 2 and later begin with PROTO; 0 and 1 (rare) with a GLOBAL or MARK opcode.
PICKLE_STARTS = (b"\x80", b"c", b"(")
# The compressors `joblib.dump(compress=...)` writes whole files with.
COMPRESSED_STARTS = (
    b"\x78",  # zlib
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"\x5d\x00\x00",  # lzma
    b"\x04\x22\x4d\x18",  # lz4
)
ONNX_HINT = "an ONNX model must be named *.onnx"


def load_estimator(path: Path, error: type[StaticMLError], where: str) -> Any:
    """The object saved in `path`. Like any pickle, this runs code from the file: use your own.

    A file that is neither a pickle nor a joblib file raises `error`, its message starting with
    `where`; errors from unpickling itself (a missing module, a corrupt file) are the caller's."""
    import joblib

    start = _start(path)
    if not start.startswith(PICKLE_STARTS + COMPRESSED_STARTS):
        raise error(
            f"{where}: {path} is neither a pickle nor a joblib file ({_shown(start)}); save "
            f"the fitted estimator with joblib.dump or pickle.dump ({ONNX_HINT})."
        )
    return joblib.load(path)


def _start(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(8)


def _shown(start: bytes) -> str:
    if not start:
        return "it is empty"
    return f"it begins with {start[:4]!r}"
