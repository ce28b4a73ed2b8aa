from __future__ import annotations

from pathlib import Path

import pytest

from staticml.errors import BuildError
from staticml.stages.assets import Asset, from_bytes
from staticml.stages.precompress import Encoded
from staticml.stages.write import write_site


def site(out: Path, text: bytes) -> None:
    write_site(out, [from_bytes("index.html", text, "page", hashed=False)], {}, b"{}")


def test_writes_and_replaces_a_previous_build(tmp_path):
    out = tmp_path / "dist"
    site(out, b"one")
    (out / "stale.txt").write_text("left over")
    site(out, b"two")
    assert (out / "index.html").read_bytes() == b"two"
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(BuildError, match="is not empty and is not a staticml build"):
        site(tmp_path, b"x")
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_a_failed_write_keeps_the_old_site_and_leaves_no_debris(tmp_path):
    out = tmp_path / "dist"
    site(out, b"old")
    broken = Asset("static/gone.js", "script", "0" * 64, 1, True, source=tmp_path / "missing.js")
    with pytest.raises(FileNotFoundError):
        write_site(out, [broken], {}, b"{}")
    assert (out / "index.html").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]


def test_a_file_the_previous_build_holds_unchanged_is_linked_and_a_changed_one_written(tmp_path):
    out, source = tmp_path / "dist", tmp_path / "runtime.wasm"
    source.write_bytes(b"wasm")
    kept = from_bytes("data/kept.json", b"{}", "data")
    runtime = Asset("runtime/r.wasm", "runtime", "0" * 64, 4, True, source=source)
    encoded = {kept.path: (Encoded("gzip", b"gz"),)}

    def build(page: bytes) -> dict[str, int]:
        assets = [kept, runtime, from_bytes("index.html", page, "page", hashed=False)]
        write_site(out, assets, encoded, b"{}")
        return {p.name: p.stat().st_ino for p in out.rglob("*") if p.is_file()}

    first = build(b"one")
    source.write_bytes(b"WASM")  # same path and size, other bytes
    second = build(b"two")
    assert (out / "index.html").read_bytes() == b"two"
    assert (out / "runtime" / "r.wasm").read_bytes() == b"WASM"
    linked = {name for name in second if second[name] == first[name]}
    assert linked == {Path(kept.path).name, Path(kept.path).name + ".gz"}
