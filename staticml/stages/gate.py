"""Stage: the accuracy gate, and the choice of the variant to ship, with every reason.

A variant passes when it was made, runs in CPython, loses no more than the budget (accuracy
points for classifiers, percent of mean absolute error for regressors; without labels,
disagreement with the original in the same units), runs in onnxruntime-web with the same
results as CPython on that same variant, and gives each row the same outputs scored alone as
scored among other rows, in both (so the page's single prediction, its CSV scorer and
`staticml batch` agree). Of those that pass, the fewest bytes as served
(brotli) wins; the original is the fallback and is never rejected for its size.

A variant whose compression does not apply to the model (applicability.py) is "not applicable":
it was never made, so it neither passes nor is rejected, and the explanation does not list it
among the rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from staticml.runtime.contract import TOLERANCE
from staticml.stages.measure import Invariance, Parity, Quality

ORIGINAL = "fp32"


@dataclass(frozen=True)
class Sizes:
    raw: int
    gzip: int
    brotli: int


@dataclass(frozen=True)
class Budget:
    kind: str
    limit: float  # accuracy points (classifiers) or percent (regressors)
    labelled: bool
    scale: float = 1.0  # regressors without labels: the original's mean |prediction|

    @property
    def measure(self) -> str:
        if self.kind == "regression":
            return "MAE growth" if self.labelled else "mean deviation from fp32"
        return "accuracy drop" if self.labelled else "disagreement with fp32"

    @property
    def unit(self) -> str:
        return "%" if self.kind == "regression" else " points"

    def describe(self) -> str:
        return f"{self.measure} at most {self.limit:g}{self.unit}"


@dataclass(frozen=True)
class Candidate:
    """Everything measured about one variant (None where that step could not run)."""

    name: str
    description: str
    sizes: Sizes | None
    quality: Quality | None
    cpython_ms: float | None
    browser_ms: float | None
    parity: Parity | None
    error: str | None = None  # why it was not made, or did not run in CPython
    browser_error: str | None = None  # why it did not run in the browser (or was not tried)
    batch: Invariance | None = None  # CPython: rows alone vs in batches
    browser_batch: Invariance | None = None  # the same in onnxruntime-web
    batch_error: str | None = None  # why CPython could not score the rows in batches
    batch_causes: tuple[str, ...] = ()  # what in the graph depends on the batch
    not_applicable: str | None = None  # why this compression does not apply to the model


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    drop: float | None  # in the budget's units
    reasons: tuple[str, ...]
    not_applicable: str | None = None

    @property
    def status(self) -> str:
        if self.not_applicable is not None:
            return "not applicable"
        return "passed" if self.passed else "rejected"


@dataclass(frozen=True)
class Decision:
    chosen: str
    mode: str
    verdicts: tuple[Verdict, ...]
    explanation: str


def drop(candidate: Quality, original: Quality, budget: Budget) -> float:
    """How much worse than the original, in the budget's units (negative: better)."""
    if budget.kind == "regression":
        if candidate.metric is not None and original.metric is not None:
            return 100 * (candidate.metric - original.metric) / max(original.metric, 1e-12)
        return 100 * candidate.mean_deviation / max(budget.scale, 1e-12)
    if candidate.metric is not None and original.metric is not None:
        return 100 * (original.metric - candidate.metric)
    assert candidate.agreement is not None
    return 100 * (1 - candidate.agreement)


def judge(candidate: Candidate, baseline: Quality, budget: Budget) -> Verdict:
    if candidate.not_applicable is not None:
        return Verdict(candidate.name, False, None, (), candidate.not_applicable)
    if candidate.error is not None or candidate.quality is None:
        return Verdict(candidate.name, False, None, (f"not usable: {candidate.error}",))
    lost = drop(candidate.quality, baseline, budget)
    reasons = []
    if lost > budget.limit + 1e-9:
        reasons.append(
            f"{budget.measure} {lost:.2f}{budget.unit} exceeds the budget of {budget.limit:g}{budget.unit}"
        )
    reasons.extend(_browser_reasons(candidate))
    reasons.extend(_batch_reasons(candidate, budget.kind))
    return Verdict(candidate.name, not reasons, lost, tuple(reasons))


def _browser_reasons(candidate: Candidate) -> list[str]:
    if candidate.browser_error is not None:
        return [f"does not run in onnxruntime-web: {candidate.browser_error}"]
    parity = candidate.parity
    if parity is None:
        return ["not measured in the browser"]
    reasons = []
    if parity.label_mismatches:
        reasons.append(
            f"onnxruntime-web predicts another label than CPython on {parity.label_mismatches} row(s)"
        )
    if parity.max_deviation > TOLERANCE:
        reasons.append(
            f"onnxruntime-web differs from CPython by {parity.max_deviation:.1e} (tolerance {TOLERANCE:g})"
        )
    return reasons


def _batch_reasons(candidate: Candidate, kind: str) -> list[str]:
    if candidate.batch_error is not None:
        return [
            f"not batch-invariant: CPython onnxruntime cannot score rows in batches: {candidate.batch_error}"
        ]
    if candidate.batch is None:
        return ["batch invariance not measured"]
    measured = [m for m in (candidate.batch, candidate.browser_batch) if m is not None]
    deviation = max(m.max_deviation for m in measured)
    changes = max(m.label_changes for m in measured)
    if deviation <= TOLERANCE and not changes:
        return []
    outputs = "value changes relatively" if kind == "regression" else "probabilities change"
    why = f" ({'; '.join(candidate.batch_causes)})" if candidate.batch_causes else ""
    text = (
        f"not batch-invariant: a row's {outputs} by {deviation:.1e} with the rows scored "
        f"beside it{why}"
    )
    if changes:
        text += f"; {changes} row(s) get another label"
    return [text]


def choose(candidates: Sequence[Candidate], budget: Budget, mode: str) -> Decision:
    """The variant to ship under `mode` (`auto`, `off` or a variant's name), and why."""
    baseline = next(c for c in candidates if c.name == ORIGINAL).quality
    assert baseline is not None
    verdicts = tuple(judge(c, baseline, budget) for c in candidates)
    if mode == "off":
        return Decision(ORIGINAL, mode, verdicts, "compression is off: the model ships as given")
    if mode != "auto":
        return Decision(mode, mode, verdicts, _forced(mode, verdicts))
    sizes = {c.name: c.sizes for c in candidates}
    passed = [v for v in verdicts if v.passed and sizes[v.name] is not None]
    if all(v.not_applicable is not None for v in verdicts if v.name != ORIGINAL):
        return Decision(
            ORIGINAL, mode, verdicts, "no compression applies to this model: it ships as given"
        )
    if not passed:
        return Decision(
            ORIGINAL, mode, verdicts, "no variant passed the gate: the model ships as given"
        )
    order = [c.name for c in candidates]
    best = min(passed, key=lambda v: (_served(sizes[v.name]), order.index(v.name)))
    return Decision(best.name, mode, verdicts, _why(best.name, verdicts, budget))


def _served(sizes: Sizes | None) -> tuple[int, int, int]:
    assert sizes is not None
    return (sizes.brotli, sizes.gzip, sizes.raw)


def _forced(mode: str, verdicts: Sequence[Verdict]) -> str:
    verdict = next(v for v in verdicts if v.name == mode)
    if verdict.not_applicable is not None:
        return (
            f"{mode} was asked for (compress.mode or --compress) although {verdict.not_applicable}"
        )
    if verdict.passed:
        return f"{mode} was asked for (compress.mode or --compress) and passes the gate"
    return f"{mode} was asked for (compress.mode or --compress) although " + "; ".join(
        verdict.reasons
    )


def _why(chosen: str, verdicts: Sequence[Verdict], budget: Budget) -> str:
    rejected = [v.name for v in verdicts if v.status == "rejected"]
    text = (
        f"{chosen} is the smallest variant as served that stays within the budget "
        f"({budget.describe()}), runs in onnxruntime-web as in CPython and gives a row the "
        "same outputs alone as in a batch"
    )
    return text + (f"; rejected: {', '.join(rejected)}" if rejected else "")
