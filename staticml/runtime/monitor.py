"""Count predictions over the baseline's bins and freeze them into summaries (docs/summaries.md).

This runs in the visitor's browser. It keeps counts, never values: each prediction adds one to
a bin of every monitored feature and of the output. When `k` predictions are counted, the
counts are frozen into a summary stamped with the hour (UTC, truncated) and, if the app asks
for local differential privacy, two-sided geometric noise is added to every count. The page
sends frozen summaries and keeps unsent ones across visits; `state()`/`restore()` carry them.
"""

from __future__ import annotations

import math
import random
import secrets
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

MAX_READY = 50


def bin_of(variable: Mapping[str, Any], value: Any) -> int | None:
    """The bin `value` counts in for a baseline variable, or None when it is missing.

    Numeric: edges e1 < … < ek make bins (-inf, e1), [e1, e2), …, [ek, +inf).
    Categorical: one bin per category, then one for any other value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if variable["kind"] == "numeric":
        return bisect_right(variable["edges"], float(value))
    categories = list(variable["categories"])
    label = str(value)
    return categories.index(label) if label in categories else len(categories)


def bin_count(variable: Mapping[str, Any]) -> int:
    if variable["kind"] == "numeric":
        return len(variable["edges"]) + 1
    return len(variable["categories"]) + 1


class Monitor:
    """The counts of one page, for one release.

    `spec` comes from the build: the release id, `k` (predictions per summary), `epsilon`
    (None for exact counts), each monitored feature with its bins and its `source`
    (`["field", name]` for a record field, `["feature", i]` for the i-th model feature), and
    the output variable, and for a classifier `confidence`: the bins of the top-class
    probability (None when the build fixed none).
    """

    def __init__(self, spec: Mapping[str, Any], clock: Any = None, rng: Any = None) -> None:
        self.release = str(spec["release"])
        self.k = int(spec["k"])
        self.epsilon = spec.get("epsilon")
        self.features = list(spec["features"])
        self.output = dict(spec["output"])
        self.confidence = dict(spec["confidence"]) if spec.get("confidence") else None
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.SystemRandom()
        self.ready: list[dict[str, Any]] = []
        self._confidence_counts: list[int] = []
        self._reset()

    def observe(
        self,
        record: Mapping[str, Any],
        features: Sequence[float],
        output: Any,
        confidence: float | None = None,
    ) -> None:
        """Count one prediction: its record, its feature vector, the model's output and (for
        a classifier) its top-class probability."""
        for i, variable in enumerate(self.features):
            kind, key = variable["source"]
            index = bin_of(variable, record.get(key) if kind == "field" else features[int(key)])
            if index is None:
                self._missing[i] += 1
            else:
                self._counts[i][index] += 1
        index = bin_of(self.output, output)
        self._output_counts[-1 if index is None else index] += 1  # the last slot counts missing
        if self.confidence is not None:
            index = bin_of(self.confidence, confidence)
            self._confidence_counts[-1 if index is None else index] += 1
        self.n += 1
        if self.n >= self.k:
            self._freeze()

    def state(self) -> dict[str, Any]:
        """Everything to keep across a reload: unsent summaries and the partial counts."""
        return {
            "release": self.release,
            "ready": list(self.ready),
            "partial": {
                "n": self.n,
                "features": [list(c) for c in self._counts],
                "missing": list(self._missing),
                "output": list(self._output_counts),
                "confidence": list(self._confidence_counts),
            },
        }

    def restore(self, state: Mapping[str, Any]) -> bool:
        """Take over a saved state of the same release and shape; False (ignored) otherwise."""
        try:
            if state["release"] != self.release:
                return False
            partial = state["partial"]
            counts = [[int(c) for c in row] for row in partial["features"]]
            output = [int(c) for c in partial["output"]]
            missing = [int(m) for m in partial["missing"]]
            confidence = [int(c) for c in partial.get("confidence", [])]
            ready = [dict(item) for item in state["ready"]]
        except (KeyError, TypeError, ValueError):
            return False
        shapes = [bin_count(v) for v in self.features]
        if [len(row) for row in counts] != shapes or len(output) != bin_count(self.output) + 1:
            return False
        if len(missing) != len(self.features) or len(confidence) != len(self._confidence_counts):
            return False
        self._counts, self._output_counts, self._missing = counts, output, missing
        self._confidence_counts = confidence
        self.n = int(partial["n"])
        self.ready = (ready + self.ready)[-MAX_READY:]
        return True

    def sent(self, ids: Sequence[str]) -> None:
        """Forget the summaries the page has handed over for delivery."""
        gone = set(ids)
        self.ready = [item for item in self.ready if item["id"] not in gone]

    def _reset(self) -> None:
        self.n = 0
        self._counts = [[0] * bin_count(v) for v in self.features]
        self._missing = [0] * len(self.features)
        self._output_counts = [0] * (bin_count(self.output) + 1)  # the last one counts missing
        self._confidence_counts = (
            [] if self.confidence is None else [0] * (bin_count(self.confidence) + 1)
        )

    def _freeze(self) -> None:
        # Random per summary, never per device: it lets the collector merge a resent summary once.
        summary_id = secrets.token_hex(16)
        summary = {
            "v": 1,
            "id": summary_id,
            "release": self.release,
            "hour": self._clock().strftime("%Y-%m-%dT%H"),
            "n": self.n,
            "features": {
                variable["name"]: {
                    "counts": self._noisy(counts),
                    "missing": self._noisy([missing])[0],
                }
                for variable, counts, missing in zip(
                    self.features, self._counts, self._missing, strict=True
                )
            },
            "output": {
                "counts": self._noisy(self._output_counts[:-1]),
                "missing": self._noisy(self._output_counts[-1:])[0],
            },
            "dp": None
            if self.epsilon is None
            else {"mechanism": "geometric", "epsilon": self.epsilon},
        }
        if self.confidence is not None:
            summary["confidence"] = {
                "counts": self._noisy(self._confidence_counts[:-1]),
                "missing": self._noisy(self._confidence_counts[-1:])[0],
            }
        self.ready = ([*self.ready, {"id": summary_id, "summary": summary}])[-MAX_READY:]
        self._reset()

    def _noisy(self, counts: Sequence[int]) -> list[int]:
        return noisy(counts, self.epsilon, self._rng)


def noisy(counts: Sequence[int], epsilon: float | None, rng: Any) -> list[int]:
    """Each count with its own two-sided geometric noise; the counts as they are without ε."""
    if epsilon is None:
        return list(counts)
    return [c + two_sided_geometric(epsilon, rng) for c in counts]


def noisy_rollout(summary: Mapping[str, Any], epsilon: float, rng: Any = None) -> dict[str, Any]:
    """A rollout summary (docs/summaries.md) with the same noise as drift summaries on every
    count: feedback, and the shadow's n, agree, confusion and latency bins."""
    rng = rng or random.SystemRandom()
    result = {**summary, "dp": {"mechanism": "geometric", "epsilon": epsilon}}
    feedback = summary.get("feedback")
    if feedback is not None:
        right, wrong = noisy([feedback["right"], feedback["wrong"]], epsilon, rng)
        result["feedback"] = {"right": right, "wrong": wrong}
    shadow = summary.get("shadow")
    if shadow is not None:
        n, agree = noisy([shadow["n"], shadow["agree"]], epsilon, rng)
        confusion = shadow["confusion"]
        result["shadow"] = {
            "release": shadow["release"],
            "n": n,
            "agree": agree,
            "confusion": None
            if confusion is None
            else [noisy(row, epsilon, rng) for row in confusion],
            "latency": {
                side: noisy(shadow["latency"][side], epsilon, rng) for side in ("primary", "shadow")
            },
        }
    return result


def two_sided_geometric(epsilon: float, rng: Any) -> int:
    """Noise with P(k) ∝ exp(-ε|k|): the difference of two geometric variables."""
    alpha = math.exp(-epsilon)
    return _geometric(alpha, rng) - _geometric(alpha, rng)


def _geometric(alpha: float, rng: Any) -> int:
    """Failures before the first success, success probability 1 - alpha."""
    return math.floor(math.log(1.0 - rng.random()) / math.log(alpha))
