"""Model compression: variants, the accuracy gate, the report, and the `--compress` override.

A small iris app with an MLP is built for real (CPython and Chromium measurements included);
its report's figures are recomputed here with onnx, onnxruntime, gzip and brotli directly.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import textwrap
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
from staticml.stages.gate import Budget, Candidate, Sizes, choose, judge
from staticml.stages.measure import (
    Invariance,
    Outputs,
    Parity,
    Quality,
    invariance,
    per_batch_causes,
    quality,
    run_batches,
    run_rows,
)
from staticml.stages.model import canonical_bytes, load_model
from staticml.stages.variants import int8_dynamic, int8_static, make_variants, prune_smallest

AGGRESSIVE = "pruned-97"
# These tests are about the model, not the bytes of the runtime: a quick brotli keeps the build
# of the iris app's Pyodide snapshot (30 MB) from taking 40 s at the default quality of 11.
QUICK_BROTLI = 5


def iris_app(root: Path) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    app = root / "iris"
    (app / "iris_app").mkdir(parents=True)
    data = load_iris()
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0)
    joblib.dump(model.fit(train_x, train_y), app / "model.joblib")
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    with (app / "eval.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "species"])
        writer.writerows(
            [*row, data.target_names[label]] for row, label in zip(test_x, test_y, strict=True)
        )
    (app / "samples.json").write_text(
        json.dumps([dict(zip(names, row, strict=True)) for row in test_x[:5]])
    )
    (app / "iris_app" / "__init__.py").write_text("")
    (app / "iris_app" / "features.py").write_text(
        f"ORDER = {names!r}\n\ndef features(record):\n    return [record[n] for n in ORDER]\n"
    )
    fields = "".join(f'[[input]]\nname = "{n}"\ntype = "number"\n' for n in names)
    (app / "staticml.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "iris"
            [model]
            file = "model.joblib"
            [output]
            classes = ["setosa", "versicolor", "virginica"]
            [preprocess]
            entry = "iris_app.features:features"
            [samples]
            file = "samples.json"
            [compress]
            eval_file = "eval.csv"
            label = "species"
            prune = [0.5, 0.97]
            [build]
            brotli_quality = {QUICK_BROTLI}
            """
        )
        + fields
    )
    return app


def eval_rows(app: Path) -> tuple[np.ndarray, list[str]]:
    with (app / "eval.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = [row.pop("species") for row in rows]
    return np.asarray([list(row.values()) for row in rows], dtype=np.float32), labels


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


def candidate(name: str, brotli_bytes: int, metric: float, **changes) -> Candidate:
    fields = {
        "name": name,
        "description": name,
        "sizes": Sizes(brotli_bytes * 2, brotli_bytes, brotli_bytes),
        "quality": Quality(metric, 1.0, 0.0, 0.0),
        "cpython_ms": 0.1,
        "browser_ms": 0.1,
        "parity": Parity(0.0, 0),
        "batch": Invariance(0.0, 0, "all rows in one batch"),
        "browser_batch": Invariance(0.0, 0, "all rows in one batch"),
    }
    return Candidate(**(fields | changes))


def test_the_gate_ships_the_smallest_variant_within_the_budget():
    candidates = [
        candidate("fp32", 1000, 0.98),
        candidate("fp16", 500, 0.978),
        candidate("int8-dynamic", 250, 0.97),  # 1 point lost: over a 0.5-point budget
        candidate("int8-static", 260, 0.98, parity=Parity(0.11, 1)),  # the browser disagrees
        candidate("pruned-50", 400, 0.98, browser_error="CompileError: no Foo kernel"),
        candidate("pruned-90", 100, 0.5, quality=None, error="could not be made"),
    ]
    decision = choose(candidates, Budget("classification", 0.5, True), "auto")
    assert decision.chosen == "fp16"
    reasons = {v.name: v.reasons for v in decision.verdicts}
    assert reasons["fp32"] == reasons["fp16"] == ()
    assert reasons["int8-dynamic"] == (
        "accuracy drop 1.00 points exceeds the budget of 0.5 points",
    )
    assert reasons["int8-static"] == (
        "onnxruntime-web predicts another label than CPython on 1 row(s)",
        "onnxruntime-web differs from CPython by 1.1e-01 (tolerance 1e-05)",
    )
    assert reasons["pruned-50"] == ("does not run in onnxruntime-web: CompileError: no Foo kernel",)
    assert reasons["pruned-90"] == ("not usable: could not be made",)
    assert "rejected: int8-dynamic, int8-static, pruned-50, pruned-90" in decision.explanation


def test_the_gate_rejects_a_real_model_whose_rows_depend_on_their_batch(tmp_path):
    """A small MLP quantised dynamically, measured alone vs in batches with the build's own
    measurement: rejected with the figure and the cause; quantised statically: passes."""
    app = iris_app(tmp_path)
    model = load_model(load_config(app), tmp_path / "cache")
    features, _ = eval_rows(app)
    original, _ = run_rows(model.onnx, model, features)
    verdicts = {}
    for name, data in (
        ("int8-dynamic", int8_dynamic(model.onnx)),
        ("int8-static", int8_static(model.onnx, model.input_name, features)),
    ):
        single, _ = run_rows(data, model, features)
        measured = invariance(single, run_batches(data, model, features), model.kind)
        fields = {"quality": quality(single, original, None, model.kind), "batch": measured}
        fields["batch_causes"] = per_batch_causes(data)
        baseline = Quality(None, 1.0, 0.0, 0.0)
        verdicts[name] = (measured, judge(candidate(name, 100, 0.0, **fields), baseline, LOOSE))
    dynamic, rejected = verdicts["int8-dynamic"]
    assert dynamic.max_deviation > 1e-5
    assert not rejected.passed
    assert rejected.reasons == (
        f"not batch-invariant: a row's probabilities change by {dynamic.max_deviation:.1e} "
        "with the rows scored beside it (activations quantised per batch)",
    )
    static, passed = verdicts["int8-static"]
    assert static.max_deviation <= 1e-5 and static.label_changes == 0
    assert passed.passed, passed.reasons


LOOSE = Budget("classification", 100.0, False)


def test_batch_invariance_is_relative_for_regressors_and_counts_labels():
    single = Outputs(None, np.array([100.0, 2.0]))
    batched = {
        "a": Outputs(None, np.array([100.01, 2.0])),
        "b": Outputs(None, np.array([100.0, 2.5e-6 + 2.0])),
    }
    assert invariance(single, batched, "regression") == Invariance(pytest.approx(1e-4), 0, "a")
    labelled = Outputs(("1", "2"), np.array([[0.4, 0.6], [0.7, 0.3]]))
    flipped = Outputs(("2", "2"), np.array([[0.6, 0.4], [0.7, 0.3]]))
    assert invariance(labelled, {"x": flipped}, "classification") == Invariance(
        pytest.approx(0.2), 1, "x"
    )
    reasons = judge(
        candidate(
            "int8-dynamic", 10, 0.98, batch=invariance(labelled, {"x": flipped}, "classification")
        ),
        Quality(0.98, 1.0, 0.0, 0.0),
        Budget("classification", 0.5, True),
    ).reasons
    assert reasons == (
        "not batch-invariant: a row's probabilities change by 2.0e-01 with the rows scored "
        "beside it; 1 row(s) get another label",
    )


def test_a_tight_budget_keeps_the_original():
    candidates = [candidate("fp32", 1000, 0.98), candidate("fp16", 500, 0.9799)]
    assert choose(candidates, Budget("classification", 0.5, True), "auto").chosen == "fp16"
    decision = choose(candidates, Budget("classification", 0.0, True), "auto")
    assert decision.chosen == "fp32"
    assert decision.verdicts[1].reasons == (
        "accuracy drop 0.01 points exceeds the budget of 0 points",
    )


def test_a_regression_budget_is_relative():
    candidates = [candidate("fp32", 1000, 40.0), candidate("int8-dynamic", 300, 40.3)]
    assert choose(candidates, Budget("regression", 1.0, True), "auto").chosen == "int8-dynamic"
    decision = choose(candidates, Budget("regression", 0.5, True), "auto")
    assert decision.chosen == "fp32"
    assert decision.verdicts[1].reasons == ("MAE growth 0.75% exceeds the budget of 0.5%",)


def test_without_labels_the_gate_uses_agreement():
    unlabelled = Quality(None, 0.99, 0.2, 0.01)
    candidates = [
        candidate("fp32", 1000, 0.0, quality=Quality(None, 1.0, 0.0, 0.0)),
        candidate("fp16", 500, 0.0, quality=unlabelled),
    ]
    decision = choose(candidates, Budget("classification", 0.5, False), "auto")
    assert decision.chosen == "fp32"
    assert decision.verdicts[1].reasons == (
        "disagreement with fp32 1.00 points exceeds the budget of 0.5 points",
    )


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
