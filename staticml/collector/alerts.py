"""`--fail-on` conditions: which statistic of the report crosses which threshold.

A condition is `[skew.|drift.]METRIC OP NUMBER`, with METRIC one of `psi`, `js` (Jensen–Shannon
distance) or `p` (chi-square p-value, categorical variables only) and OP one of
`>`, `>=`, `<`, `<=`. Without a `skew.`/`drift.` prefix it applies to both comparisons.
`estimated_accuracy OP NUMBER` judges a classifier's accuracy estimated without labels (its
interval's ends are `estimated_accuracy_low` and `estimated_accuracy_high`), with no prefix.
Comparisons and estimates with not enough data are never judged.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from staticml.collector.report import DriftReport
from staticml.drift import Comparison
from staticml.errors import CollectorError

EXIT_CROSSED = 3
DEFAULT_CONDITION = "psi>=0.2"
COMPARISONS = ("skew", "drift")
METRICS = {"psi": "psi", "js": "js", "p": "p_value"}
ESTIMATES = {
    "estimated_accuracy": "value",
    "estimated_accuracy_low": "low",
    "estimated_accuracy_high": "high",
}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(
    r"\s*(?:(?P<comparison>[a-z]+)\.)?(?P<metric>[a-z_]+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)


@dataclass(frozen=True)
class Condition:
    comparison: str | None
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        prefix = f"{self.comparison}." if self.comparison else ""
        return f"{prefix}{self.metric}{self.op}{self.threshold:g}"


def parse_condition(text: str) -> Condition:
    match = _CONDITION.fullmatch(text)
    form = (
        "write it as [skew.|drift.]psi|js|p >|>=|<|<= NUMBER, e.g. psi>0.2 or skew.p<0.01, "
        "or estimated_accuracy[_low|_high] >|>=|<|<= NUMBER, e.g. estimated_accuracy<0.9"
    )
    if not match:
        raise CollectorError(f"--fail-on {text!r} is not a condition: {form}.")
    comparison, metric = match["comparison"], match["metric"]
    if metric in ESTIMATES:
        if comparison is not None:
            raise CollectorError(
                f"--fail-on {text!r}: {metric} is not a skew or drift comparison; drop the "
                f"{comparison}. prefix."
            )
        return Condition(None, metric, match["op"], float(match["value"]))
    if comparison is not None and comparison not in COMPARISONS:
        raise CollectorError(f"--fail-on {text!r}: {comparison!r} is not skew or drift; {form}.")
    if metric not in METRICS:
        raise CollectorError(
            f"--fail-on {text!r}: {metric!r} is not psi, js, p or estimated_accuracy; {form}."
        )
    return Condition(comparison, metric, match["op"], float(match["value"]))


def crossed(report: DriftReport, conditions: Sequence[Condition]) -> list[str]:
    """One line per (condition, variable, comparison) whose statistic crosses its threshold."""
    lines = []
    for condition in conditions:
        if condition.metric in ESTIMATES:
            lines.extend(_estimate_crossed(report, condition))
            continue
        for variable in report.variables:
            for name in (condition.comparison,) if condition.comparison else COMPARISONS:
                comparison: Comparison = getattr(variable, name)
                value = getattr(comparison, METRICS[condition.metric])
                if value is not None and OPERATORS[condition.op](value, condition.threshold):
                    lines.append(
                        f"{name} {condition.metric} of {variable.role} {variable.name} is "
                        f"{value:.4g} ({condition})"
                    )
    return lines


def _estimate_crossed(report: DriftReport, condition: Condition) -> list[str]:
    estimate = report.accuracy
    value = None if estimate is None else getattr(estimate, ESTIMATES[condition.metric])
    if value is None or not OPERATORS[condition.op](value, condition.threshold):
        return []
    assert estimate is not None and estimate.low is not None and estimate.high is not None
    return [
        f"the estimated accuracy is {estimate.value:.3f} ({estimate.level:.0%} interval "
        f"{estimate.low:.3f} to {estimate.high:.3f}, {estimate.n} predictions) ({condition})"
    ]
