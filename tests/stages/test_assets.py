from __future__ import annotations

import base64
import hashlib

from staticml.hashing import hashed_name, integrity, sha256_hex, tree_digest
from staticml.runtimes import PYODIDE, default_node_modules, locate
from staticml.stages.assets import from_bytes, runtime_assets


def test_hashed_names_keep_folder_and_suffix():
    digest = sha256_hex(b"x")
    assert hashed_name("static/app.js", digest) == f"static/app.{digest[:12]}.js"
    assert hashed_name("Makefile", digest) == f"Makefile.{digest[:12]}"


def test_integrity_is_sri_base64():
    data = b"hello"
    expected = "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert integrity(sha256_hex(data)) == expected


def test_tree_digest_ignores_order_but_not_content():
    a = [("a", "1"), ("b", "2")]
    assert tree_digest(a) == tree_digest(list(reversed(a)))
    assert tree_digest(a) != tree_digest([("a", "1"), ("b", "3")])


def test_assets_from_bytes():
    plain = from_bytes("index.html", b"<html>", "page", hashed=False)
    assert plain.path == "index.html" and not plain.immutable
    kept = from_bytes("wheels/x-1-py3-none-any.whl", b"zip", "wheel", keep_name=True)
    assert kept.path == f"wheels/{sha256_hex(b'zip')[:12]}/x-1-py3-none-any.whl" and kept.immutable


def test_runtime_files_share_one_hashed_folder():
    assets = runtime_assets(locate(PYODIDE, default_node_modules()))
    folders = {a.path.rsplit("/", 1)[0] for a in assets}
    assert len(folders) == 1 and folders.pop().startswith("runtime/pyodide-")
    assert {a.path.rsplit("/", 1)[1] for a in assets} == set(PYODIDE.files)
