"""The runtime cache against a stand-in npm registry on 127.0.0.1 (tests/support/registry.py):
download, integrity refusal, resumption, offline use and the offline error."""

from __future__ import annotations

import io
import json
import random

import pytest

from staticml import runtime_cache
from staticml.errors import AssetError
from staticml.progress import PlainReporter
from staticml.runtime_cache import (
    RECORD,
    REGISTRY_ENV,
    Pin,
    cache_folder,
    cached_runtimes,
    fetch_runtime,
    find,
    find_runtimes,
    registry,
    runtimes_dir,
    tarball_url,
)
from staticml.runtime_digests import DIGESTS
from staticml.runtimes import NODE_MODULES_ENV, PYODIDE, RuntimeSpec, default_node_modules
from tests.support import free_port
from tests.support.registry import Registry, integrity, local_registry, npm_tarball

DEMO = RuntimeSpec("demo", "staticml-demo-runtime", "1.0.0", "dist", ("demo.mjs", "demo.wasm"))
DEMO_FILES = {
    "dist/demo.mjs": b"export default 1;\n",
    "dist/demo.wasm": random.Random(0).randbytes(200_000),
}
DEMO_PATH = "/staticml-demo-runtime/-/staticml-demo-runtime-1.0.0.tgz"


def _pin(tarball: bytes, files: dict[str, bytes] = DEMO_FILES) -> Pin:
    import hashlib

    digests = {name.rsplit("/", 1)[-1]: hashlib.sha256(d).hexdigest() for name, d in files.items()}
    return Pin(integrity(tarball), digests)


@pytest.fixture
def outside_a_checkout(tmp_path, monkeypatch):
    """As after `pip install staticml`: no node_modules here, beside staticml or in the env."""
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    monkeypatch.setattr(runtime_cache, "_CHECKOUT_NODE_MODULES", tmp_path / "no-checkout")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def _left_over(cache) -> list[str]:
    """Every file under the runtime cache: nothing may remain after a refused download."""
    root = runtimes_dir(cache)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_registry_is_staticmls_setting_then_npms_then_npmjs(monkeypatch):
    for name in (REGISTRY_ENV, "npm_config_registry", "NPM_CONFIG_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    assert registry() == "https://registry.npmjs.org/"
    monkeypatch.setenv("npm_config_registry", "https://npm.example.test/")
    assert registry() == "https://npm.example.test/"
    monkeypatch.setenv(REGISTRY_ENV, "http://127.0.0.1:9/npm")
    assert registry() == "http://127.0.0.1:9/npm"
    assert tarball_url(PYODIDE, "http://127.0.0.1:9/npm/") == (
        "http://127.0.0.1:9/npm/pyodide/-/pyodide-314.0.7.tgz"
    )
    scoped = RuntimeSpec("core", "@pyscript/core", "0.7.0", "", ())
    assert tarball_url(scoped, "https://r.test") == "https://r.test/@pyscript/core/-/core-0.7.0.tgz"


def test_a_runtime_is_downloaded_once_with_only_its_shipped_files_then_used_offline(
    outside_a_checkout,
):
    cache = outside_a_checkout
    source = default_node_modules() / "pyodide"  # the checkout's, packed as npm packs it
    files = {name: (source / name).read_bytes() for name in PYODIDE.files}
    files |= {"package.json": (source / "package.json").read_bytes(), "README.md": b"# pyodide\n"}
    tarball = npm_tarball(files)
    pin = Pin(integrity(tarball), DIGESTS[(PYODIDE.package, PYODIDE.version)])
    progress = io.StringIO()
    with local_registry(Registry(files={"/pyodide/-/pyodide-314.0.7.tgz": tarball})) as npm:
        folder = fetch_runtime(
            PYODIDE, cache, pin=pin, base=npm.url, reporter=PlainReporter(progress)
        )
        assert fetch_runtime(PYODIDE, cache, pin=pin, base=npm.url) == folder
        assert len(npm.requests) == 1
    assert folder == cache / "runtimes" / "pyodide-314.0.7"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*PYODIDE.files, RECORD])
    lines = progress.getvalue().splitlines()
    assert lines[0].startswith("Downloading pyodide 314.0.7") and lines[-1].endswith(
        f"{len(tarball) // 1000}/{len(tarball) // 1000}"
    )
    assert _left_over(cache) == sorted(f"pyodide-314.0.7/{n}" for n in [*PYODIDE.files, RECORD])
    # The registry is gone: a build finds the runtime in the cache, each file checked again.
    found = find(PYODIDE, None, cache, PlainReporter(io.StringIO()))
    assert found.files == tuple(folder / name for name in PYODIDE.files)
    [entry] = cached_runtimes(cache)
    assert (entry.package, entry.version, entry.folder) == ("pyodide", "314.0.7", folder)
    assert entry.source.endswith("/pyodide/-/pyodide-314.0.7.tgz")


@pytest.mark.parametrize("fault", ["tampered", "truncated"])
def test_a_download_that_is_not_the_pinned_tarball_is_refused_and_nothing_is_cached(
    tmp_path, fault
):
    tarball = npm_tarball(DEMO_FILES)
    served = (
        tarball[:100] + bytes([tarball[100] ^ 1]) + tarball[101:]
        if fault == "tampered"
        else tarball[: len(tarball) // 2]
    )
    with (
        local_registry(Registry(files={DEMO_PATH: served})) as npm,
        pytest.raises(AssetError) as refused,
    ):
        fetch_runtime(DEMO, tmp_path, pin=_pin(tarball), base=npm.url)
    message = str(refused.value)
    assert f"the download of staticml-demo-runtime 1.0.0 from {npm.url.rstrip('/')}" in message
    assert f"({len(served)} bytes) is not the tarball staticml pins" in message
    assert f"expected {integrity(tarball)}" in message
    assert "nothing was cached" in message
    assert _left_over(tmp_path) == []
    assert not cache_folder(DEMO, tmp_path).exists()


def test_a_file_in_the_tarball_that_is_not_the_pinned_file_is_refused(tmp_path):
    tarball = npm_tarball(DEMO_FILES)
    pin = _pin(tarball, {**DEMO_FILES, "dist/demo.wasm": b"another wasm"})
    with (
        local_registry(Registry(files={DEMO_PATH: tarball})) as npm,
        pytest.raises(AssetError) as e,
    ):
        fetch_runtime(DEMO, tmp_path, pin=pin, base=npm.url)
    assert "package/dist/demo.wasm in http://127.0.0.1:" in str(e.value)
    assert "is not the file staticml pins for staticml-demo-runtime 1.0.0" in str(e.value)
    assert _left_over(tmp_path) == []


def test_a_cut_connection_is_resumed_with_a_range_request(tmp_path):
    tarball = npm_tarball(DEMO_FILES)
    cut = len(tarball) // 3
    stand_in = Registry(files={DEMO_PATH: tarball}, cut_after={DEMO_PATH: cut})
    with local_registry(stand_in) as npm:
        folder = fetch_runtime(DEMO, tmp_path, pin=_pin(tarball), base=npm.url)
    assert npm.requests == [(DEMO_PATH, None), (DEMO_PATH, f"bytes={cut}-")]
    assert (folder / "demo.wasm").read_bytes() == DEMO_FILES["dist/demo.wasm"]
    assert json.loads((folder / RECORD).read_text())["version"] == "1.0.0"


def test_a_download_an_earlier_run_left_part_way_is_resumed(tmp_path):
    tarball = npm_tarball(DEMO_FILES)
    part = runtimes_dir(tmp_path) / ".downloads" / "staticml-demo-runtime-1.0.0.tgz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(tarball[:1000])
    with local_registry(Registry(files={DEMO_PATH: tarball})) as npm:
        folder = fetch_runtime(DEMO, tmp_path, pin=_pin(tarball), base=npm.url)
    assert npm.requests == [(DEMO_PATH, "bytes=1000-")]
    assert (folder / "demo.mjs").read_bytes() == DEMO_FILES["dist/demo.mjs"]
    assert not part.exists()


def test_a_version_the_registry_does_not_have_is_a_clear_error(tmp_path):
    with local_registry() as npm, pytest.raises(AssetError, match=r"answered HTTP 404") as e:
        fetch_runtime(DEMO, tmp_path, pin=_pin(b""), base=npm.url)
    assert DEMO_PATH in str(e.value)
    assert _left_over(tmp_path) == []


def test_offline_with_an_empty_cache_says_what_is_missing_and_the_two_ways_out(
    outside_a_checkout, monkeypatch
):
    monkeypatch.setenv(REGISTRY_ENV, f"http://127.0.0.1:{free_port()}/")  # nothing listens
    with pytest.raises(AssetError) as offline:
        find_runtimes(None, outside_a_checkout)
    message = str(offline.value)
    folder = outside_a_checkout / "runtimes" / "pyodide-314.0.7"
    assert f"pyodide 314.0.7 is needed but is not in staticml's runtime cache ({folder})" in message
    assert "run `staticml runtimes fetch` on a machine that reaches the npm registry" in message
    assert f"point {NODE_MODULES_ENV} at a node_modules folder (a mirror)" in message
    assert _left_over(outside_a_checkout) == []


def test_a_node_modules_here_with_another_version_gives_way_to_the_cache(
    outside_a_checkout, monkeypatch
):
    (outside_a_checkout.parent / "node_modules" / "pyodide").mkdir(parents=True)
    (outside_a_checkout.parent / "node_modules" / "pyodide" / "package.json").write_text(
        '{"version": "0.27.0"}'
    )
    monkeypatch.setenv(REGISTRY_ENV, f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(AssetError, match=r"not in staticml's runtime cache"):
        find(PYODIDE, None, outside_a_checkout, PlainReporter(io.StringIO()))
    # Named explicitly, the same folder is refused for what it is.
    monkeypatch.setenv(NODE_MODULES_ENV, str(outside_a_checkout.parent / "node_modules"))
    with pytest.raises(AssetError, match=r"version 0.27.0, but staticml is pinned to pyodide"):
        find(PYODIDE, None, outside_a_checkout, PlainReporter(io.StringIO()))
