"""The built site as a whole: manifest, page, vendored files, determinism."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import brotli
import numpy as np
import pytest

from staticml.hashing import integrity
from staticml.runtimes import RUNTIMES
from staticml.stages.hosting import HOSTING_FILES
from tests.support import APP_DIR

VARIANT = re.compile(r"\.(br|gz)$")
# Files of one build beside the release, not listed in the manifest: the manifest itself and the
# model report (it holds the build time and measured latencies).
BUILD_RECORDS = {"bundle.json", "model.json", "model.html", *HOSTING_FILES}


@pytest.fixture(scope="module")
def manifest(built_site):
    return json.loads((built_site.path / "bundle.json").read_text())


def test_the_manifest_lists_every_file_with_size_and_hash(built_site, manifest):
    site = built_site.path
    on_disk = {
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and not VARIANT.search(p.name) and p.name not in BUILD_RECORDS
    }
    assert on_disk == set(manifest["assets"])
    for path, meta in manifest["assets"].items():
        data = (site / path).read_bytes()
        assert meta["size"] == len(data), path
        assert meta["sha256"] == hashlib.sha256(data).hexdigest(), path
        for encoding, size in meta["encodings"].items():
            packed = (site / (path + {"br": ".br", "gzip": ".gz"}[encoding])).read_bytes()
            assert len(packed) == size
            assert (
                brotli.decompress(packed) if encoding == "br" else gzip.decompress(packed)
            ) == data


def test_immutable_assets_have_content_hashed_paths(manifest):
    for path, meta in manifest["assets"].items():
        if meta["immutable"]:
            assert re.search(r"[0-9a-f]{12}", path), path
            assert meta["sha256"][:12] in path or "/runtime/" in f"/{path}", path
        else:
            # The page, and the service worker, whose URL must not change between releases.
            assert path in {"index.html", "sw.js"}


def test_only_the_pinned_runtime_files_are_vendored(manifest):
    vendored = [
        p
        for p, meta in manifest["assets"].items()
        if re.match(r"runtime/[a-z-]+-[0-9a-f]{12}/", p) and meta["kind"] != "snapshot"
    ]
    runtime_files = sorted(p.rsplit("/", 1)[1] for p in vendored)
    assert runtime_files == sorted(f for spec in RUNTIMES for f in spec.files)
    # Besides them, only the build's own snapshot of Pyodide's memory, in its parts.
    others = [p for p in manifest["assets"] if p.startswith("runtime/") and p not in vendored]
    assert others and {manifest["assets"][p]["kind"] for p in others} == {"snapshot"}
    assert manifest["runtimes"] == {"pyodide": "314.0.7", "onnxruntime-web": "1.30.0"}
    assert not any("jsep" in p or "webgpu" in p for p in manifest["assets"])


def test_no_file_of_the_site_is_over_the_hosts_per_file_limit(built_site):
    sizes = {p.relative_to(built_site.path).as_posix(): p.stat().st_size for p in files(built_site)}
    largest = max(sizes, key=sizes.__getitem__)
    assert sizes[largest] <= 25 * 1024 * 1024, largest  # Cloudflare Pages' limit


def test_the_snapshot_ships_in_parts_that_join_to_it(built_site, manifest):
    config = page_config_of(built_site)["runtime"]
    snapshot = config["pyodide"]["snapshot"]
    parts = config["parts"].get(snapshot, [snapshot])  # split only when over the limit
    assert {manifest["assets"][p]["kind"] for p in parts} == {"snapshot"}
    assert all(p in config["assets"] for p in parts)
    joined = b"".join((built_site.path / p).read_bytes() for p in parts)
    assert joined[:4] == (0x706E7300).to_bytes(4, "little")  # a Pyodide snapshot's magic number
    assert len(parts) == -(-len(joined) // (25 * 1024 * 1024))  # as few parts as it takes


def files(built_site):
    return [p for p in built_site.path.rglob("*") if p.is_file()]


def page_config_of(built_site):
    page = (built_site.path / "index.html").read_text()
    [text] = re.findall(
        r'<script type="application/json" id="staticml-config">(.*?)</script>', page, re.S
    )
    return json.loads(text)


def test_the_page_links_hashed_assets_with_integrity(built_site, manifest):
    html = (built_site.path / "index.html").read_text()
    for path in re.findall(r'(?:src|href)="([^"]+)"', html):
        if path in BUILD_RECORDS:
            continue
        meta = manifest["assets"][path]
        if path.endswith((".js", ".css")):
            assert f'integrity="{integrity(meta["sha256"])}"' in html
    config = json.loads(
        re.search(
            r'<script type="application/json" id="staticml-config">(.*?)</script>', html, re.S
        ).group(1)
    )
    runtime = config["runtime"]
    urls = [
        config["worker"],
        config["samples"],
        runtime["pyodide"]["module"],
        runtime["ort"]["module"],
        runtime["ort"]["wasm"],
        runtime["model"]["url"],
        *runtime["wheels"],
    ]
    assert all(url in manifest["assets"] for url in urls)
    for url, meta in runtime["assets"].items():
        assert meta["integrity"] == integrity(manifest["assets"][url]["sha256"])
    assert config["release"] == manifest["release"]
    assert "<script>" not in html and " style=" not in html, (
        "inline script or style would break the CSP"
    )


def test_the_build_prints_progress_and_a_summary(built_site):
    output = built_site.build_output
    assert "Training the model and converting it to ONNX" in output
    assert re.search(r"Built release [0-9a-f]{12}", output)
    files = len(json.loads((built_site.path / "bundle.json").read_text())["assets"])
    assert re.search(rf"all {files} files\s+[\d.]+ MB\s+[\d.]+ MB\s+[\d.]+ MB", output)
    assert "20 sample(s) shipped with CPython reference predictions" in output
    assert "Model variants, measured on 900 records" in output
    assert "Data: compress.eval = 'train:evaluation'" in output
    chosen = json.loads((built_site.path / "model.json").read_text())["choice"]["variant"]
    words = " ".join(output.split())  # the console wraps long lines at its width
    assert f"Shipped model: {chosen}: {chosen} is the smallest variant" in words
    assert "rejected: not batch-invariant: a row's probabilities change by" in words
    assert "Next: staticml serve" in output


def test_a_second_cold_build_is_the_same_site(built_site):
    """Another build in a fresh process with its own empty cache (it trains the model and makes
    the Python snapshot again), started by a caller that asks the math libraries for other
    kernels and threads, while another process keeps a core busy and other tests run
    (`DemoBuilds` starts it after the first): every file is the same bytes. Only the latencies
    the build measures differ, and they are left out."""
    assert built_site.again is not None, "DemoBuilds makes this build when this test is run"
    again, build = built_site.again
    output = build.result()
    first, second = site_files(built_site.path), site_files(again)
    assert sorted(first) == sorted(second)
    changed = sorted(path for path in first if first[path] != second[path])
    choices = [
        json.loads((site / "model.json").read_text())["choice"] for site in (built_site.path, again)
    ]
    assert changed == [], f"files whose content differs between the builds; choices: {choices}"
    assert "20 sample(s) shipped" in output
    raw = sum(len(data) for path, data in second.items() if not path.endswith((".br", ".gz")))
    served = sum(
        len(second.get(f"{path}.br", data))
        for path, data in second.items()
        if not path.endswith((".br", ".gz"))
    )
    assert served < raw / 3


_LATENCY_CELL = re.compile(rb"<td>[0-9.,]+ ms</td>")


def site_files(site) -> dict[str, bytes]:
    """Every file of a built site, with the measured latencies in the model report blanked."""
    files = {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }
    report = json.loads(files["model.json"])
    for variant in report["variants"]:
        variant["cpython_ms"] = variant["browser_ms"] = None
    files["model.json"] = json.dumps(report, sort_keys=True).encode()
    files["model.html"] = _LATENCY_CELL.sub(b"<td>ms</td>", files["model.html"])
    for encoded in ("model.html.br", "model.html.gz", "model.json.br", "model.json.gz"):
        files.pop(encoded, None)
    return files


@pytest.fixture(scope="module")
def model_report(built_site):
    return json.loads((built_site.path / "model.json").read_text())


def shipped_model(site, manifest) -> bytes:
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "model"]
    return (site / path).read_bytes()


def test_the_demo_ships_the_gated_choice(built_site, manifest, model_report, demo_model):
    choice = model_report["choice"]
    variants = {v["name"]: v for v in model_report["variants"]}
    shipped = shipped_model(built_site.path, manifest)
    assert choice["mode"] == "auto" and choice["sha256"] == hashlib.sha256(shipped).hexdigest()
    assert manifest["predict"]["model"]["sha256"] == choice["sha256"]
    assert len(demo_model.onnx) >= 1_000_000, (
        "the demo model is big enough for compression to matter"
    )
    assert variants["fp32"]["bytes"]["raw"] == len(demo_model.onnx)
    assert choice["variant"] != "fp32" and variants[choice["variant"]]["passed"]
    assert choice["smaller"]["brotli"] > 2
    served = min(v["bytes"]["brotli"] for v in variants.values() if v["passed"])
    assert variants[choice["variant"]]["bytes"]["brotli"] == served
    for variant in variants.values():
        assert variant["passed"] or variant["reasons"], variant["name"]
    provenance = model_report["provenance"]
    assert provenance["original_sha256"] == hashlib.sha256(demo_model.onnx).hexdigest()
    assert provenance["source"] == "model.train = 'train:train'"
    assert (
        provenance["source_sha256"]
        == hashlib.sha256((APP_DIR / "train.py").read_bytes()).hexdigest()
    )
    assert len(provenance["training_data_sha256"]) == 64 and provenance["staticml"]
    assert model_report["release"] == manifest["release"]


@pytest.fixture(scope="module")
def evaluation():
    """The demo's evaluation digits as feature vectors, with their labels, from the app's code."""
    import train
    from digits.preprocess import features

    items = train.evaluation()
    vectors = np.asarray([features(item["record"]) for item in items], dtype=np.float32)
    return vectors, [str(item["label"]) for item in items]


def test_the_demo_report_is_recomputed_independently(
    built_site, manifest, model_report, demo_model, evaluation
):
    """Accuracy, agreement and bytes of fp32 and the shipped variant, from the app's own code."""
    import onnxruntime

    vectors, truth = evaluation

    def labels(model: bytes) -> list[str]:
        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        return [str(session.run(None, {"input": v.reshape(1, -1)})[0][0]) for v in vectors]

    def share(left, right) -> float:
        return sum(a == b for a, b in zip(left, right, strict=True)) / len(left)

    shipped = shipped_model(built_site.path, manifest)
    original, compressed = labels(demo_model.onnx), labels(shipped)
    variants = {v["name"]: v for v in model_report["variants"]}
    chosen = variants[model_report["choice"]["variant"]]
    assert model_report["evaluation"]["rows"] == len(truth) == 900
    assert variants["fp32"]["metric"] == pytest.approx(share(original, truth))
    assert chosen["metric"] == pytest.approx(share(compressed, truth))
    assert chosen["agreement"] == pytest.approx(share(compressed, original))
    assert chosen["drop"] == pytest.approx(
        100 * (share(original, truth) - share(compressed, truth))
    )
    assert chosen["drop"] <= model_report["budget"]["limit"]
    assert chosen["bytes"]["raw"] == len(shipped)
    assert chosen["bytes"]["brotli"] == len(brotli.compress(shipped, quality=11))
    assert chosen["bytes"]["gzip"] == len(gzip.compress(shipped, compresslevel=9, mtime=0))


@pytest.mark.parametrize("chunk", [None, 200, 7])
def test_the_shipped_model_gives_a_row_the_same_outputs_alone_and_in_a_batch(
    built_site, manifest, evaluation, chunk
):
    """The page predicts one record per run, its CSV scorer and `staticml batch` many: every
    evaluation digit must get the same probabilities either way (in shuffled chunks of
    `chunk`, or all 900 in one run)."""
    import onnxruntime

    vectors, _ = evaluation
    session = onnxruntime.InferenceSession(
        shipped_model(built_site.path, manifest), providers=["CPUExecutionProvider"]
    )
    alone = np.vstack([session.run(None, {"input": v.reshape(1, -1)})[1] for v in vectors])
    order = np.random.default_rng(1).permutation(len(vectors))
    together = np.empty_like(alone)
    for start in range(0, len(order), chunk or len(order)):
        rows = order[start : start + (chunk or len(order))]
        together[rows] = session.run(None, {"input": vectors[rows]})[1]
    assert float(np.abs(together - alone).max()) <= 1e-5
