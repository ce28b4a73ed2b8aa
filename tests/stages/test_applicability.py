"""Compressions that do not apply to a model kind: decided from the ONNX graph before any is
tried, reported as "not applicable" with the reason, and never counted as rejected.

The linear models are the examples' own: wine's logistic regression as skl2onnx writes it
(ai.onnx.ml's Scaler, LinearClassifier, Normalizer: no weight matrices) and diabetes'
`MatMul` regression (weight matrices: every variant applies). The tree model is a random
forest fitted on the wine data and built for real as the wine app's model: of its variants only
fewer trees (tests/stages/test_trees.py) apply.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from rich.console import Console

import staticml
from staticml.cli.render import model_table
from staticml.config import load_config
from staticml.errors import BuildError
from staticml.stages.applicability import applicability, single_default_opset
from staticml.stages.gate import Budget, Candidate, Sizes, choose
from staticml.stages.measure import Invariance, Parity, Quality
from staticml.stages.model import load_model
from staticml.stages.variants import int8_dynamic, make_variants

ROOT = Path(__file__).resolve().parents[2]
WINE, DIABETES = ROOT / "examples" / "wine", ROOT / "examples" / "diabetes"
LINEAR_KIND = "a linear model whose coefficients are attributes of ai.onnx.ml's LinearClassifier"
NO_WEIGHTS = "the model has no weight matrices ({})"


def variants_of(app: Path) -> dict:
    config = load_config(app)
    model = load_model(config)
    calibration = np.ones((4, model.n_features), dtype=np.float32)
    made = make_variants(model.onnx, model.input_name, calibration, config.compress.prune)
    return {v.name: v for v in made}


def test_the_wine_linear_classifier_has_nothing_to_compress_and_nothing_fails():
    variants = variants_of(WINE)
    assert variants["fp32"].onnx is not None and variants["fp32"].not_applicable is None
    compressed = [v for name, v in variants.items() if name != "fp32"]
    assert len(compressed) == 9
    assert all(v.onnx is None and v.error is None for v in compressed)
    assert variants["fp16"].not_applicable == (
        "float16 conversion: not applicable, onnxruntime's float16 converter keeps every "
        "operator of the model (Scaler, LinearClassifier, Normalizer) in float32; it would "
        "only add casts"
    )
    no_weights = NO_WEIGHTS.format(LINEAR_KIND)
    for name in ("int8-dynamic", "int8-static"):
        assert variants[name].not_applicable == (
            f"int8 weight quantisation: not applicable, {no_weights}"
        )
    for name in ("pruned-50", "pruned-90-int8", "pruned-50-int8-static"):
        assert variants[name].not_applicable == f"weight pruning: not applicable, {no_weights}"


def test_the_diabetes_matmul_regression_gets_every_variant():
    variants = variants_of(DIABETES)
    assert [n for n, v in variants.items() if v.not_applicable or v.error] == []
    assert all(v.onnx for v in variants.values())


def matmul_model(opsets: list[tuple[str, int]]) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    return model.SerializeToString()


def test_ai_onnx_imported_twice_with_one_version_is_merged_and_quantised():
    """skl2onnx writes `("", 17)` twice for some estimators; onnxruntime's quantisers then
    raise "Failed to find proper ai.onnx domain"."""
    data = matmul_model([("", 17), ("", 17), ("ai.onnx.ml", 1)])
    assert applicability(data).int8 is None
    merged = single_default_opset(onnx.load_from_string(data))
    assert [(o.domain, o.version) for o in merged.opset_import] == [("", 17), ("ai.onnx.ml", 1)]
    quantised = onnx.load_from_string(int8_dynamic(data))
    assert "DynamicQuantizeLinear" in {n.op_type for n in quantised.graph.node}


def test_conflicting_ai_onnx_versions_make_int8_not_applicable_but_not_pruning():
    applies = applicability(matmul_model([("", 13), ("ai.onnx", 17)]))
    assert applies.int8 == (
        ", the model imports the default operator set (ai.onnx) with conflicting versions "
        "(13, 17); onnxruntime's quantisers need one"
    )
    assert applies.pruning is None and applies.fp16 is None


def test_an_embedding_table_is_quantised_but_not_pruned():
    table = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "table")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["y"])],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        initializer=[table],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    applies = applicability(model.SerializeToString())
    assert applies.int8 is None
    assert applies.pruning == ", the model has no weight matrices (its operators are Gather)"


def measured(name: str, brotli_bytes: int) -> Candidate:
    return Candidate(
        name,
        name,
        Sizes(brotli_bytes, brotli_bytes, brotli_bytes),
        Quality(0.9, 1.0, 0.0, 0.0),
        0.1,
        0.1,
        Parity(0.0, 0),
        batch=Invariance(0.0, 0, "all rows in one batch"),
    )


def test_the_gate_neither_passes_nor_rejects_what_does_not_apply():
    reason = "weight pruning: not applicable, the model has no weight matrices (a tree ensemble)"
    candidates = [
        measured("fp32", 900),
        measured("fp16", 500),
        Candidate("pruned-50", "", None, None, None, None, None, not_applicable=reason),
    ]
    decision = choose(candidates, Budget("classification", 0.5, True), "auto")
    assert decision.chosen == "fp16"
    status = {v.name: v.status for v in decision.verdicts}
    assert status == {"fp32": "passed", "fp16": "passed", "pruned-50": "not applicable"}
    assert decision.verdicts[2].reasons == () and decision.verdicts[2].not_applicable == reason
    assert "rejected" not in decision.explanation


# --- a tree ensemble, built for real ------------------------------------------------------------


def tree_app(root: Path) -> Path:
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    app = root / "wine-forest"
    shutil.copytree(WINE, app, ignore=shutil.ignore_patterns("__pycache__"))
    data = load_wine()
    train_x, _, train_y, _ = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    joblib.dump(forest.fit(train_x, train_y), app / "model.joblib")
    return app


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    root = tmp_path_factory.mktemp("forest")
    app = tree_app(root)
    result = staticml.build(app, root / "site")
    return app, result.out_dir


TREES_NA = "not applicable to tree ensembles (their parameters are split thresholds and leaf values, not weight matrices)"
FOREST_WEIGHT_VARIANTS = 9


def test_a_tree_ensemble_gets_fewer_trees_and_every_weight_compression_not_applicable(forest):
    _, site = forest
    report = json.loads((site / "model.json").read_text())
    rows = {row["name"]: row for row in report["variants"]}
    assert rows["fp32"]["status"] == "passed" and rows["fp32"]["bytes"] is not None
    fewer = {name: row for name, row in rows.items() if name.startswith("trees-")}
    assert sorted(fewer) == ["trees-25", "trees-50", "trees-75"]
    for row in fewer.values():
        assert row["status"] in ("passed", "rejected") and row["browser"]["ran"]
        assert row["bytes"]["brotli"] < rows["fp32"]["bytes"]["brotli"]
    others = [row for name, row in rows.items() if name != "fp32" and name not in fewer]
    assert len(others) == FOREST_WEIGHT_VARIANTS
    assert {row["status"] for row in others} == {"not applicable"}
    assert all(row["error"] is None and row["reasons"] == [] for row in others)
    assert rows["int8-static"]["not_applicable"] == f"int8 weight quantisation: {TREES_NA}"
    assert rows["pruned-50"]["not_applicable"] == f"weight pruning: {TREES_NA}"
    assert rows["fp16"]["not_applicable"].startswith(
        "float16 conversion: not applicable to tree ensembles (onnxruntime's float16 converter "
        "keeps the ai.onnx.ml tree operators in float32"
    )


def test_the_report_page_and_the_build_output_say_not_applicable_not_rejected(forest):
    _, site = forest
    report = json.loads((site / "model.json").read_text())
    rejected = [r["name"] for r in report["variants"] if r["status"] == "rejected"]
    page = (site / "model.html").read_text()
    assert page.count(TREES_NA) == 8
    assert "not usable" not in page and "Error" not in page

    console = Console(file=io.StringIO(), width=200)
    console.print(model_table(report))
    lines = console.file.getvalue().splitlines()
    assert sum(line.split()[-2:] == ["not", "applicable"] for line in lines) == 9
    printed = " ".join(" ".join(lines).split())  # the caption wraps at the table's width
    assert "not usable" not in printed
    assert all(name.startswith("trees-") for name in rejected)
    assert f"int8-dynamic, int8-static — int8 weight quantisation: {TREES_NA}" in printed
    assert (
        "pruned-50, pruned-90, pruned-50-int8, pruned-90-int8, pruned-50-int8-static, "
        f"pruned-90-int8-static — weight pruning: {TREES_NA}"
    ) in printed


def test_asking_for_a_variant_that_does_not_apply_stops_the_build(forest, tmp_path):
    app, _ = forest
    with pytest.raises(
        BuildError,
        match=r"asks for int8-static, which could not be made: int8 weight quantisation: not "
        r"applicable to tree ensembles \(their parameters are split thresholds",
    ):
        staticml.build(app, tmp_path / "site", compress="int8-static")
