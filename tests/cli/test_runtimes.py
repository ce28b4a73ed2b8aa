"""`staticml runtimes` and `staticml runtimes fetch`, outside a checkout (see
tests/test_runtime_cache.py for the download itself, against a stand-in registry)."""

from __future__ import annotations

from click.testing import CliRunner

from staticml import runtime_cache
from staticml.cli import cli
from staticml.runtime_cache import RECORD, REGISTRY_ENV
from staticml.runtimes import NODE_MODULES_ENV
from tests.support import free_port


def _outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    monkeypatch.setattr(runtime_cache, "_CHECKOUT_NODE_MODULES", tmp_path / "no-checkout")
    monkeypatch.chdir(tmp_path)


def test_the_listing_says_what_the_next_build_downloads_and_what_is_cached(tmp_path, monkeypatch):
    _outside_a_checkout(tmp_path, monkeypatch)
    cached = tmp_path / "cache" / "runtimes" / "pyodide-0.27.0"  # left by an older staticml
    cached.mkdir(parents=True)
    (cached / RECORD).write_text(
        '{"package": "pyodide", "version": "0.27.0", "source": "https://r.test/p.tgz"}'
    )
    (cached / "pyodide.mjs").write_bytes(b"x" * 2000)
    result = CliRunner().invoke(cli, ["runtimes", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert " ".join(lines[1].split()) == (
        "pyodide 314.0.7 not cached the next build downloads it (or: staticml runtimes fetch)"
    )
    assert lines[2].startswith("  onnxruntime-web 1.30.0  not cached")
    assert lines[3] == f"Cache {tmp_path / 'cache' / 'runtimes'}: 1 runtime(s)"
    assert lines[4].split()[:3] == ["pyodide", "0.27.0", "2.1"]
    assert lines[4].endswith(f"{cached}  from https://r.test/p.tgz")


def test_fetch_without_a_network_is_an_error_with_the_ways_out(tmp_path, monkeypatch):
    _outside_a_checkout(tmp_path, monkeypatch)
    monkeypatch.setenv(REGISTRY_ENV, f"http://127.0.0.1:{free_port()}/")
    result = CliRunner().invoke(cli, ["runtimes", "--cache-dir", str(tmp_path), "fetch", "-q"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: pyodide 314.0.7 is needed but is not in staticml's")
    assert "staticml runtimes fetch" in result.output and NODE_MODULES_ENV in result.output
