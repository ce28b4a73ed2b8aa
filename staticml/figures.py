"""How the model report and the CLI show numbers: sizes, percentages, deviations, times."""

from __future__ import annotations

from typing import Any


def human_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def figure(value: float | None, kind: str) -> str:
    """A report figure as shown: percentages, deviations and milliseconds."""
    if value is None:
        return "–"
    if kind == "percent":
        return f"{100 * value:.2f}%"
    if kind == "deviation":
        return f"{value:.1e}"
    if kind == "ms":
        return f"{value:.3f} ms"
    if kind == "decimal":
        return f"{value:.3f}"
    if kind == "drop":
        return f"{value:+.2f}"
    return f"{value:.4g}"


def metric_text(report: dict[str, Any], value: float | None) -> str:
    return figure(value, "percent" if report["budget"]["metric"] == "accuracy" else "number")
