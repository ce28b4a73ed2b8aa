"""The accuracy gate: which compressed variant ships, and each rejected one's reason (the
figures are made up here, but for one real model quantised two ways)."""

from __future__ import annotations

import numpy as np
import pytest

from staticml.config import load_config
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
from staticml.stages.model import load_model
from staticml.stages.variants import int8_dynamic, int8_static
from tests.support.iris import eval_rows, iris_app


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
