"""Small server-rendered SVG charts (no script, no external resource): bars and lines.

Colours come from CSS classes (`s0`…`s7`, `guide`) styled by the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 64
PALETTE = 8


def _frame(title: str, body: list[str], y_max: float, percent: bool) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        value = y_max * fraction
        label = f"{value * 100:.0f}%" if percent else f"{value:.2g}"
        ticks.append(
            f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(ticks)
        + "".join(body)
        + "</svg>"
    )


def _x_label(x: float, text: str) -> str:
    y = HEIGHT - BOTTOM + 12
    return (
        f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="end" '
        f'transform="rotate(-35 {x:.1f} {y})">{escape(text)}</text>'
    )


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]
) -> str:
    """Grouped bars of proportions: one group per label, one bar per series."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = max([v for _, values in series for v in values] + [0.01])
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    body = []
    for i, label in enumerate(labels):
        x0 = LEFT + group * i + group * 0.1
        for j, (name, values) in enumerate(series):
            height = plot_h * values[i] / y_max
            body.append(
                f'<rect class="s{j % PALETTE}" x="{x0 + bar * j:.1f}" '
                f'y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" height="{height:.1f}">'
                f"<title>{escape(name)}, {escape(label)}: {values[i] * 100:.1f}%</title></rect>"
            )
        body.append(_x_label(LEFT + group * (i + 0.5), label))
    return _frame(title, body, y_max, percent=True)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    guides: Sequence[tuple[str, float]] = (),
) -> str:
    """Lines over `labels` (gaps where a value is None) with horizontal guide lines."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for _, vs in series for v in vs if v is not None]
    y_max = max([*values, *(g for _, g in guides), 0.01]) * 1.1
    step = plot_w / max(1, len(labels) - 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return LEFT + step * i, TOP + plot_h * (1 - v / y_max)

    body = []
    for name, value in guides:
        _, y = point(0, value)
        body.append(
            f'<line class="guide" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}">'
            f"<title>{escape(name)} {value:g}</title></line>"
        )
    for j, (name, vs) in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(point(i, v))
            x, y = runs[-1][-1]
            body.append(
                f'<circle class="s{j % PALETTE}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(name)} at {escape(labels[i])}: {v:.3f}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline class="line s{j % PALETTE}" points="{points}"/>')
    for i, label in enumerate(labels):
        if i % max(1, len(labels) // 8) == 0 or i == len(labels) - 1:
            body.append(_x_label(LEFT + step * i, label))
    return _frame(title, body, y_max, percent=False)
