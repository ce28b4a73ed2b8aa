"""Model compression: variants, the gate's choice, the report, and the `--compress` override
(the gate's rules on made-up figures are in test_gate.py).

A small iris app with an MLP is built for real (CPython and Chromium measurements included);
its report's figures are recomputed here with onnx, onnxruntime, gzip and brotli directly.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import brotli
import joblib
import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import numpy_helper

import staticml
from staticml.config import load_config, with_compress_mode
from staticml.errors import ConfigError
from staticml.hashing import sha256_hex
from staticml.stages.model import canonical_bytes
from staticml.stages.variants import int8_dynamic, make_variants, prune_smallest
from tests.support.iris import QUICK_BROTLI, eval_rows, iris_app

AGGRESSIVE = "pruned-97"


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    root = tmp_path_factory.mktemp("iris")
    app = iris_app(root)
    return app, staticml.build(app, root / "dist")


def report_of(site: Path) -> dict:
    return json.loads((site / "model.json").read_text())


def row(report: dict, name: str) -> dict:
    return next(v for v in report["variants"] if v["name"] == name)


def shipped_model(site: Path) -> tuple[str, bytes]:
    manifest = json.loads((site / "bundle.json").read_text())
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "model"]
    return path, (site / path).read_bytes()


def original_onnx(app: Path) -> bytes:
    """The original model converted afresh, as the build converts a joblib file (with the
    operator sets in the build's one order: skl2onnx lists them in this process's set order)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    model = joblib.load(app / "model.joblib")
    proto = to_onnx(
        model,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return canonical_bytes(proto)


def predict(data: bytes, features: np.ndarray) -> tuple[list[str], np.ndarray]:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    labels, probabilities = [], []
    for vector in features:
        label, p = session.run(None, {"input": vector.reshape(1, -1)})
        labels.append(["setosa", "versicolor", "virginica"][int(label[0])])
        probabilities.append(p[0])
    return labels, np.asarray(probabilities)


def pruned_independently(data: bytes, level: float) -> bytes:
    """Magnitude pruning written again with plain numpy: the smallest |w| of each MatMul weight."""
    proto = onnx.load_from_string(data)
    weights = {n.input[1] for n in proto.graph.node if n.op_type == "MatMul"}
    for tensor in proto.graph.initializer:
        if tensor.name in weights:
            array = numpy_helper.to_array(tensor).copy()
            cut = np.sort(np.abs(array).ravel())[round(level * array.size) - 1]
            array[np.abs(array) <= cut] = 0
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
    return proto.SerializeToString()


def accuracy(predicted: list[str], truth: list[str]) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


# --- the built app ------------------------------------------------------------------------------


def test_a_variant_over_the_budget_is_rejected_with_the_reason(iris):
    _, result = iris
    report = report_of(result.out_dir)
    aggressive = row(report, AGGRESSIVE)
    assert not aggressive["passed"]
    assert aggressive["reasons"][0].startswith("accuracy drop ")
    assert aggressive["reasons"][0].endswith("points exceeds the budget of 0.5 points")
    assert aggressive["drop"] > 0.5
    assert AGGRESSIVE in report["choice"]["explanation"]
    assert report["choice"]["variant"] != AGGRESSIVE
    assert result.model_report == report


def test_the_report_figures_are_recomputed_independently(iris):
    app, result = iris
    report = report_of(result.out_dir)
    features, truth = eval_rows(app)
    original = original_onnx(app)
    original_labels, original_p = predict(original, features)
    assert report["evaluation"]["rows"] == len(truth) and report["evaluation"]["labelled"]
    assert report["provenance"]["original_sha256"] == sha256_hex(original)

    # The original: its bytes and its accuracy.
    fp32 = row(report, "fp32")
    assert fp32["bytes"]["raw"] == len(original)
    assert fp32["metric"] == pytest.approx(accuracy(original_labels, truth))

    # The shipped variant: the bytes as written and served, accuracy, agreement, deviation.
    path, shipped = shipped_model(result.out_dir)
    chosen = row(report, report["choice"]["variant"])
    assert report["choice"]["sha256"] == sha256_hex(shipped)
    assert chosen["bytes"]["raw"] == len(shipped)
    assert chosen["bytes"]["gzip"] == len(gzip.compress(shipped, compresslevel=9, mtime=0))
    assert chosen["bytes"]["brotli"] == len(brotli.compress(shipped, quality=QUICK_BROTLI))
    assert chosen["bytes"]["brotli"] == (result.out_dir / (path + ".br")).stat().st_size
    labels, probabilities = predict(shipped, features)
    assert chosen["metric"] == pytest.approx(accuracy(labels, truth))
    assert chosen["agreement"] == pytest.approx(accuracy(labels, original_labels))
    assert chosen["max_deviation"] == pytest.approx(
        float(np.abs(probabilities - original_p).max()), abs=1e-7
    )

    # The rejected variant, pruned again here with numpy.
    level = int(AGGRESSIVE.split("-")[1]) / 100
    pruned_labels, _ = predict(pruned_independently(original, level), features)
    aggressive = row(report, AGGRESSIVE)
    assert aggressive["metric"] == pytest.approx(accuracy(pruned_labels, truth))
    assert aggressive["drop"] == pytest.approx(
        100 * (fp32["metric"] - aggressive["metric"]), abs=1e-9
    )


def test_the_calibration_error_is_recomputed_independently_and_shown(iris):
    """ECE of the shipped variant: ten equal bins of top-class probability, the row-weighted
    mean of |accuracy - mean probability| per bin."""
    app, result = iris
    report = report_of(result.out_dir)
    features, truth = eval_rows(app)
    labels, probabilities = predict(shipped_model(result.out_dir)[1], features)
    top = probabilities.max(axis=1)
    right = np.array([a == b for a, b in zip(labels, truth, strict=True)])
    bins = np.minimum((top * 10).astype(int), 9)
    ece = sum(
        abs(right[bins == b].mean() - top[bins == b].mean()) * (bins == b).sum()
        for b in range(10)
        if (bins == b).any()
    ) / len(top)
    calibration = report["calibration"]
    assert calibration["ece"] == pytest.approx(ece, abs=1e-6)
    assert calibration["rows"] == [int((bins == b).sum()) for b in range(10)]
    html = (result.out_dir / "model.html").read_text()
    assert f"<strong>{100 * ece:.2f}%</strong>" in html and 'id="calibration"' in html


def test_the_samples_reference_the_shipped_variant(iris):
    _, result = iris
    _, shipped = shipped_model(result.out_dir)
    manifest = json.loads((result.out_dir / "bundle.json").read_text())
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "samples"]
    samples = json.loads((result.out_dir / path).read_text())["samples"]
    features = np.asarray([list(s["record"].values()) for s in samples], dtype=np.float32)
    _, probabilities = predict(shipped, features)
    for sample, expected in zip(samples, probabilities, strict=True):
        shipped_p = list(sample["expected"]["probabilities"].values())
        assert shipped_p == pytest.approx(expected.tolist(), abs=1e-7)


def test_every_variant_ran_in_the_browser_or_says_why(iris):
    _, result = iris
    report = report_of(result.out_dir)
    assert report["browser"].startswith("Chromium ")
    names = [v["name"] for v in report["variants"]]
    assert names == [
        "fp32",
        "fp16",
        "int8-dynamic",
        "int8-static",
        "pruned-50",
        AGGRESSIVE,
        "pruned-50-int8",
        f"{AGGRESSIVE}-int8",
        "pruned-50-int8-static",
        f"{AGGRESSIVE}-int8-static",
    ]
    for variant in report["variants"]:
        assert variant["browser"]["ran"] or variant["error"] or variant["browser"]["error"]
        if variant["passed"]:
            assert variant["browser"]["max_deviation"] <= 1e-5
            assert variant["browser"]["label_mismatches"] == 0
            for measured in (variant["batch"]["cpython"], variant["batch"]["browser"]):
                assert measured["max_deviation"] <= 1e-5 and measured["label_changes"] == 0


def test_a_variant_whose_rows_depend_on_their_batch_is_rejected(iris):
    """int8-dynamic quantises activations per run: recomputed here, a row's probabilities
    move when all rows run at once, and the report must have measured it in both runtimes."""
    app, result = iris
    report = report_of(result.out_dir)
    features, _ = eval_rows(app)
    dynamic = int8_dynamic(original_onnx(app))
    _, alone = predict(dynamic, features)
    session = onnxruntime.InferenceSession(dynamic, providers=["CPUExecutionProvider"])
    moved = float(np.abs(session.run(None, {"input": features})[1] - alone).max())
    assert moved > 1e-5
    variant = row(report, "int8-dynamic")
    cpython, browser = variant["batch"]["cpython"], variant["batch"]["browser"]
    assert cpython["max_deviation"] >= moved - 1e-6
    assert browser["max_deviation"] > 1e-5
    assert variant["batch"]["causes"] == ["activations quantised per batch"]
    assert not variant["passed"]
    assert (
        f"not batch-invariant: a row's probabilities change by "
        f"{max(cpython['max_deviation'], browser['max_deviation']):.1e} with the rows scored "
        "beside it (activations quantised per batch)"
    ) in variant["reasons"]
    static = row(report, "int8-static")["batch"]
    assert static["causes"] == []
    assert static["cpython"]["max_deviation"] <= 1e-5 >= static["browser"]["max_deviation"]
    assert report["evaluation"]["batches"] == [
        "all rows in one batch",
        "chunks of 7, shuffled",
        "chunks of 64, shuffled",
    ]


def test_the_report_page_and_json_sit_beside_the_release(iris):
    _, result = iris
    site = result.out_dir
    manifest = json.loads((site / "bundle.json").read_text())
    assert manifest["report"] == "model.json"
    assert "model.json" not in manifest["assets"] and "model.html" not in manifest["assets"]
    html = (site / "model.html").read_text()
    for variant in report_of(site)["variants"]:
        assert f'id="variant-{variant["name"]}"' in html
    assert 'class="chosen"' in html and "<script" not in html and " style=" not in html
    assert 'href="model.html"' in (site / "index.html").read_text()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_compress_off_ships_the_original(iris, tmp_path):
    app, _ = iris
    completed = run_cli("build", str(app), "-o", str(tmp_path / "off"), "--compress", "off")
    assert completed.returncode == 0, completed.stderr
    report = report_of(tmp_path / "off")
    _, shipped = shipped_model(tmp_path / "off")
    assert shipped == original_onnx(app)
    assert report["choice"]["variant"] == "fp32" and report["choice"]["mode"] == "off"
    assert [v["name"] for v in report["variants"]] == ["fp32"]
    assert report["browser"] is None


def test_a_variant_asked_for_ships_even_over_the_budget(iris, tmp_path):
    app, _ = iris
    result = staticml.build(app, tmp_path / "forced", compress=AGGRESSIVE)
    report = report_of(result.out_dir)
    assert report["choice"]["variant"] == AGGRESSIVE
    assert "although accuracy drop" in report["choice"]["explanation"]
    _, shipped = shipped_model(result.out_dir)
    assert report["choice"]["sha256"] == sha256_hex(shipped)


def test_auto_without_chromium_stops_with_the_fix(iris, tmp_path):
    import os

    app, _ = iris
    env = {**os.environ, "STATICML_CHROMIUM": str(tmp_path / "no-chromium")}
    completed = run_cli("build", str(app), "-o", str(tmp_path / "out"), "--quiet", env=env)
    assert completed.returncode == 1
    assert "compress.mode = 'auto'" in completed.stderr
    assert "needs Chromium" in completed.stderr and "--compress off" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


# --- units --------------------------------------------------------------------------------------


def test_variants_are_deterministic(iris):
    app, _ = iris
    original = original_onnx(app)
    calibration = eval_rows(app)[0]
    first = make_variants(original, "input", calibration, (0.5,))
    second = make_variants(original, "input", calibration, (0.5,))
    assert [v.name for v in first] == [
        "fp32",
        "fp16",
        "int8-dynamic",
        "int8-static",
        "pruned-50",
        "pruned-50-int8",
        "pruned-50-int8-static",
    ]
    assert all(v.onnx for v in first)
    assert [v.onnx for v in first] == [v.onnx for v in second]


def test_fp16_keeps_float32_inputs_and_outputs(iris):
    app, _ = iris
    [_, fp16, *_] = make_variants(original_onnx(app), "input", eval_rows(app)[0], ())
    assert fp16.onnx is not None
    proto = onnx.load_from_string(fp16.onnx)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[1].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    halves = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert halves and all(t.raw_data for t in halves)


def test_pruning_zeroes_exactly_the_smallest_share():
    weights = np.arange(1, 101, dtype=np.float32).reshape(10, 10) * np.where(
        np.arange(100).reshape(10, 10) % 2, -1, 1
    )
    pruned = prune_smallest(weights, 0.3)
    assert (pruned == 0).sum() == 30
    assert np.all(np.abs(weights[pruned == 0]) <= 30)
    assert np.array_equal(pruned[pruned != 0], weights[np.abs(weights) > 30])


def test_compress_modes_are_checked(tmp_path):
    config = load_config(iris_app(tmp_path))
    assert with_compress_mode(config, "int8-static").compress.mode == "int8-static"
    assert with_compress_mode(config, None) is config
    with pytest.raises(ConfigError, match="--compress: expected auto, off or a variant"):
        with_compress_mode(config, "int4")
    assert with_compress_mode(config, "pruned-97-int8").compress.mode == "pruned-97-int8"
    with pytest.raises(ConfigError, match=r"pruned-33 is not made by the compress\.prune levels"):
        with_compress_mode(config, "pruned-33")
    with pytest.raises(ConfigError, match="they make pruned-50, pruned-97"):
        with_compress_mode(config, "pruned-33-int8")
