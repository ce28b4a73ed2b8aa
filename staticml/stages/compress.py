"""Stage: compress the model as far as it goes without silently losing accuracy.

    evaluation set ─ variants (variants.py) ─ CPython outputs, latency, rows alone vs in
        batches (measure.py) ─ served sizes (precompress, cached) ─ onnxruntime-web in Chromium (browser.py)
        ─ gate and choice (gate.py) ─ the chosen model + the report (report.py)

With `compress.mode = 'off'` only the original is measured, in CPython, and ships.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from staticml.baseline import Confidence
from staticml.calibration import measure_confidence, top_probability
from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.hashing import sha256_hex
from staticml.runtimes import RuntimeFiles
from staticml.stages import assets as make
from staticml.stages.browser import BrowserRuns, run_in_browser
from staticml.stages.evaluation import EvalSet, evaluation_set
from staticml.stages.gate import ORIGINAL, Budget, Candidate, Decision, Sizes, Verdict, choose
from staticml.stages.measure import (
    CHUNKINGS,
    Invariance,
    Outputs,
    invariance,
    parity,
    per_batch_causes,
    quality,
    run_batches,
    run_rows,
)
from staticml.stages.model import ModelArtifact
from staticml.stages.precompress import precompress
from staticml.stages.provenance import provenance
from staticml.stages.report import FORMAT
from staticml.stages.variants import Variant, make_variants, original
from staticml.stages.wheels import Wheels
from staticml.version import __version__

log = logging.getLogger("staticml.build")


@dataclass(frozen=True)
class Compression:
    model: ModelArtifact  # the chosen variant, as the page and the samples get it
    report: dict[str, Any]  # model.json, except the release (added once it is known)
    confidence: Confidence | None = None  # classifiers: the chosen variant's calibration


@dataclass(frozen=True)
class _Measured:
    outputs: Outputs | None
    cpython_ms: float | None
    error: str | None
    batch: Invariance | None = None
    batch_error: str | None = None


def compress_model(
    config: AppConfig,
    model: ModelArtifact,
    wheels: Wheels,
    ort: RuntimeFiles,
    cache_dir: Path,
) -> Compression:
    mode = _mode(config, model)
    data = evaluation_set(config, model, wheels)
    variants = (
        (original(model.onnx),)
        if mode == "off"
        else make_variants(
            model.onnx,
            model.input_name,
            data.calibration,
            config.compress.prune,
            config.compress.trees,
            model.trees,
        )
    )
    _check_forced(mode, variants)
    measured = {v.name: _measure(v, model, data) for v in variants}
    runnable = [(v.name, v.onnx) for v in variants if v.onnx and measured[v.name].outputs]
    sizes = _served_sizes(runnable, config.build.brotli_quality, cache_dir)
    browser = None if mode == "off" else run_in_browser(runnable, model, data.features, ort)
    baseline = measured[ORIGINAL].outputs
    if baseline is None:
        raise BuildError(
            f"CPython onnxruntime cannot run {model.origin}: {measured[ORIGINAL].error}"
        )
    candidates = [
        _candidate(v, measured[v.name], sizes.get(v.name), baseline, data, model.kind, browser)
        for v in variants
    ]
    budget = _budget(config, model, data, baseline)
    decision = choose(candidates, budget, mode)
    _check_shippable(decision, candidates)
    chosen = next(v for v in variants if v.name == decision.chosen)
    assert chosen.onnx is not None
    log.info("compression: %s", decision.explanation)
    shipped = dataclasses.replace(model, onnx=chosen.onnx)
    report = _report(config, model, shipped, data, candidates, decision, budget, browser)
    confidence = _confidence(measured[decision.chosen].outputs, data)
    if confidence is not None:
        report["calibration"] = _calibration_report(confidence)
    return Compression(shipped, report, confidence)


def _confidence(outputs: Outputs | None, data: EvalSet) -> Confidence | None:
    """The chosen variant's top-class probabilities on the evaluation data, binned."""
    if outputs is None or outputs.labels is None:
        return None
    correct = (
        None
        if data.labels is None
        else np.array([a == b for a, b in zip(outputs.labels, data.labels, strict=True)])
    )
    return measure_confidence(top_probability(outputs.scores), correct, data.source)


def _calibration_report(confidence: Confidence) -> dict[str, Any]:
    return {
        "method": "expected calibration error, 10 equal bins of top-class probability",
        "ece": confidence.ece,
        "edges": list(confidence.edges),
        "rows": list(confidence.rows),
        "mean": list(confidence.mean),
        "accuracy": None if confidence.accuracy is None else list(confidence.accuracy),
    }


def _mode(config: AppConfig, model: ModelArtifact) -> str:
    """`compress.mode`, except for a model taking the record's fields: its variants (made for
    one float input) are not made, so it ships as converted, measured in CPython only."""
    mode = config.compress.mode
    if not model.spec().inputs or mode == "off":
        return mode
    if mode != "auto":
        raise BuildError(
            f"compress.mode (or --compress) asks for {mode}, but {model.origin} takes the "
            "record's fields (one input per column), and compressed variants are made only for "
            "a model with one float input. Set compress.mode = 'auto' or 'off'."
        )
    log.info("compression: the model takes the record's fields; it ships as converted")
    return "off"


def _check_forced(mode: str, variants: Sequence[Variant]) -> None:
    if mode in ("auto", "off"):
        return
    forced = next((v for v in variants if v.name == mode), None)
    if forced is None or forced.onnx is None:
        reason = (forced.not_applicable or forced.error) if forced else "no such variant"
        raise BuildError(
            f"compress.mode (or --compress) asks for {mode}, which could not be made: {reason}. "
            "Choose another variant, auto or off."
        )


def _check_shippable(decision: Decision, candidates: Sequence[Candidate]) -> None:
    """A variant asked for by name ships even over budget, but never one that cannot run."""
    if decision.mode in ("auto", "off"):
        return
    chosen = next(c for c in candidates if c.name == decision.chosen)
    problem = chosen.error or chosen.browser_error
    if problem is None and chosen.parity is not None and chosen.parity.label_mismatches:
        problem = "the browser predicts other labels than CPython"
    if problem:
        raise BuildError(
            f"compress.mode (or --compress) asks for {decision.chosen}, which cannot ship: "
            f"{problem}. Choose another variant, auto or off."
        )


def _measure(variant: Variant, model: ModelArtifact, data: EvalSet) -> _Measured:
    if variant.onnx is None:
        return _Measured(None, None, variant.error)  # None when not applicable
    try:
        outputs, milliseconds = run_rows(variant.onnx, model, data.feed)
    except Exception as exc:  # onnxruntime's own errors; recorded against the variant
        return _Measured(None, None, f"CPython onnxruntime cannot run it: {exc}")
    try:
        batched = run_batches(variant.onnx, model, data.feed)
    except Exception as exc:  # e.g. a graph with a fixed batch size of 1
        return _Measured(outputs, milliseconds, None, batch_error=str(exc))
    return _Measured(outputs, milliseconds, None, invariance(outputs, batched, model.kind))


def _served_sizes(
    runnable: Sequence[tuple[str, bytes]], quality_level: int, cache_dir: Path
) -> dict[str, Sizes]:
    files = {name: make.from_bytes(f"model/{name}.onnx", data, "model") for name, data in runnable}
    encoded = precompress(list(files.values()), quality_level, cache_dir)
    sizes = {}
    for name, asset in files.items():
        found = {e.encoding: len(e.data) for e in encoded.get(asset.path, ())}
        sizes[name] = Sizes(asset.size, found.get("gzip", asset.size), found.get("br", asset.size))
    return sizes


def _candidate(
    variant: Variant,
    measured: _Measured,
    sizes: Sizes | None,
    baseline: Outputs,
    data: EvalSet,
    kind: str,
    browser: BrowserRuns | None,
) -> Candidate:
    outputs = measured.outputs
    score = quality(outputs, baseline, data.labels, kind) if outputs is not None else None
    run = browser.runs.get(variant.name) if browser is not None else None
    match = (
        parity(run.outputs, outputs, kind)
        if run is not None and run.outputs is not None and outputs is not None
        else None
    )
    browser_batch = (
        invariance(run.outputs, run.batches, kind)
        if run is not None and run.outputs is not None and run.batches
        else None
    )
    return Candidate(
        name=variant.name,
        description=variant.description,
        sizes=sizes,
        quality=score,
        cpython_ms=measured.cpython_ms,
        browser_ms=run.latency_ms if run else None,
        parity=match,
        error=measured.error,
        browser_error=run.error if run else None,
        batch=measured.batch,
        browser_batch=browser_batch,
        batch_error=measured.batch_error,
        batch_causes=per_batch_causes(variant.onnx) if variant.onnx else (),
        not_applicable=variant.not_applicable,
    )


def _budget(config: AppConfig, model: ModelArtifact, data: EvalSet, baseline: Outputs) -> Budget:
    labelled = data.labels is not None
    if model.kind == "regression":
        scale = float(np.mean(np.abs(baseline.scores)))
        return Budget(model.kind, config.compress.relative_budget, labelled, scale)
    return Budget(model.kind, config.compress.budget, labelled)


def _report(
    config: AppConfig,
    model: ModelArtifact,
    shipped: ModelArtifact,
    data: EvalSet,
    candidates: Sequence[Candidate],
    decision: Decision,
    budget: Budget,
    browser: BrowserRuns | None,
) -> dict[str, Any]:
    verdicts = {v.name: v for v in decision.verdicts}
    rows = [_row(c, verdicts[c.name]) for c in candidates]
    chosen, first = verdicts[decision.chosen], rows[0]
    shipped_row = next(r for r in rows if r["name"] == chosen.name)
    return {
        "format": FORMAT,
        "generator": f"staticml {__version__}",
        "app": config.app.name,
        "release": None,
        "kind": model.kind,
        "choice": {
            "variant": decision.chosen,
            "mode": decision.mode,
            "explanation": decision.explanation,
            "sha256": sha256_hex(shipped.onnx),
            "smaller": {
                key: (first["bytes"][key] / shipped_row["bytes"][key])
                for key in ("raw", "gzip", "brotli")
            },
        },
        "budget": {
            "metric": "MAE" if model.kind == "regression" else "accuracy",
            "measure": budget.measure,
            "limit": budget.limit,
            "unit": budget.unit.strip(),
            "description": budget.describe(),
        },
        "evaluation": {
            "source": data.source,
            "rows": data.rows,
            "labelled": data.labels is not None,
            "sha256": data.sha256,
            "calibration": data.calibration_source,
            "batches": [chunking.describe() for chunking in CHUNKINGS],
        },
        "browser": browser.browser if browser else None,
        "variants": rows,
        "provenance": provenance(config, model),
    }


def _row(candidate: Candidate, verdict: Verdict) -> dict[str, Any]:
    sizes, score, match = candidate.sizes, candidate.quality, candidate.parity
    return {
        "name": candidate.name,
        "description": candidate.description,
        "bytes": dataclasses.asdict(sizes) if sizes else None,
        "metric": score.metric if score else None,
        "agreement": score.agreement if score else None,
        "max_deviation": score.max_deviation if score else None,
        "drop": verdict.drop,
        "cpython_ms": candidate.cpython_ms,
        "browser_ms": candidate.browser_ms,
        "browser": {
            "ran": match is not None,
            "error": candidate.browser_error,
            "max_deviation": match.max_deviation if match else None,
            "label_mismatches": match.label_mismatches if match else None,
        },
        "batch": {
            "cpython": _invariance(candidate.batch),
            "browser": _invariance(candidate.browser_batch),
            "error": candidate.batch_error,
            "causes": list(candidate.batch_causes),
        },
        "error": candidate.error,
        "status": verdict.status,
        "not_applicable": verdict.not_applicable,
        "passed": verdict.passed,
        "reasons": list(verdict.reasons),
    }


def _invariance(measured: Invariance | None) -> dict[str, Any] | None:
    return dataclasses.asdict(measured) if measured is not None else None
