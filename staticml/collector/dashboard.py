"""The dashboard page: the drift report as tables and inline SVG, rendered on the server.

No script and no external resource: the only style is the inline sheet below, allowed by its
hash in the page's Content Security Policy.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from staticml.collector.accuracy import AccuracyEstimate
from staticml.collector.errors import InvalidRequest
from staticml.collector.report import DriftReport, VariableReport
from staticml.collector.storage import FEATURE_PREFIX, OUTPUT, feature_key
from staticml.collector.svg import PALETTE, bar_chart, line_chart
from staticml.drift import Comparison

HISTORY_LINES = 6
PAGE_SIZE = 20  # releases linked per dashboard page
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1100px}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem}"
    "td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    ".verdict{font-weight:600;padding:0 .4rem;border-radius:3px}"
    ".ok{background:#d9f2d9}.warn{background:#fff0c2}.alert{background:#f8c9c9}"
    ".none{background:#eee}.charts{display:flex;flex-wrap:wrap;gap:1rem}"
    ".axis{stroke:#ddd}.tick{font-size:10px;fill:#555}.guide{stroke:#c44e52;stroke-dasharray:4 3}"
    ".legend span{margin-right:1rem}"
    + "".join(f".s{i}{{fill:{c};stroke:{c}}}" for i, c in enumerate(COLOURS[:PALETTE]))
    + "".join(f".l{i}::before{{content:'■ ';color:{c}}}" for i, c in enumerate(COLOURS))
    + "polyline.line{fill:none;stroke-width:1.5}form{margin:.5rem 0 1rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
DASHBOARD_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ReleasePage:
    """One page of the release links: `number` of `pages` (from 1), and its releases."""

    number: int
    pages: int
    releases: tuple[str, ...]


def release_page(releases: Sequence[str], selected: str, page: str | None) -> ReleasePage:
    """The page `page` (a number from 1) of the sorted `releases`; without one, the page that
    holds `selected`. A page that is not a number, or past the last, is an InvalidRequest."""
    ordered = sorted(releases)
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    if page is None:
        number = ordered.index(selected) // PAGE_SIZE + 1 if selected in ordered else 1
    elif page.isascii() and page.isdigit() and len(page) < 10 and 1 <= int(page) <= pages:
        number = int(page)
    else:
        raise InvalidRequest("page", f"is {page[:20]!r}; expected a page number from 1 to {pages}.")
    first = (number - 1) * PAGE_SIZE
    return ReleasePage(number, pages, tuple(ordered[first : first + PAGE_SIZE]))


def render_dashboard(
    report: DriftReport,
    history: Sequence[tuple[str, dict[str, float | None]]],
    releases: ReleasePage,
    accuracy: Sequence[tuple[str, AccuracyEstimate]] = (),
    rollout: str = "",
) -> str:
    """The page; `rollout` is the rollout section's HTML (staticml/collector/rollout_section.py)."""
    title = f"Drift of release {report.release}"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)} {_badge(report.verdict)}</h1>",
        _chooser(report, releases),
        _spans(report),
        _table(report.variables),
        "<h2>Predictions</h2>",
        _distribution(report.output),
        *(_accuracy(report, accuracy) if report.accuracy is not None else ()),
        "<h2>PSI against the baseline over time</h2>",
        _history(report, history),
        "<h2>Features, most skewed first</h2><div class=charts>",
        *(_distribution(v) for v in sorted(report.features, key=_skew_order)),
        "</div>",
        rollout,
        "</body></html>",
    ]
    return "".join(parts)


def _badge(verdict: str) -> str:
    css = "none" if verdict not in ("ok", "warn", "alert") else verdict
    return f'<span class="verdict {css}">{escape(verdict)}</span>'


def _chooser(report: DriftReport, page: ReleasePage) -> str:
    def link(text: str, rel: str = "", **query: object) -> str:
        href = escape(urlencode({"release": report.release, "window": report.window, **query}))
        return f'<a{f" rel={rel}" if rel else ""} href="?{href}">{escape(text)}</a>'

    links = " ".join(link(r, release=r) for r in page.releases)
    turns = []
    if page.number > 1:
        turns.append(link("← previous", "prev", page=page.number - 1))
    if page.number < page.pages:
        turns.append(link("next →", "next", page=page.number + 1))
    pages = f" (page {page.number} of {page.pages}: {' '.join(turns)})" if page.pages > 1 else ""
    return (
        f"<form method=get>Releases{pages}: {links} · window "
        f'<input type=hidden name=release value="{escape(report.release)}">'
        f'<input name=window size=5 value="{escape(report.window)}"> <button>Show</button></form>'
    )


def _spans(report: DriftReport) -> str:
    t = report.thresholds
    rows = "".join(
        f"<tr><td>{name}</td><td>{escape(s.start)}</td><td>{escape(s.end)}</td>"
        f"<td>{s.n}</td><td>{s.summaries}</td><td>{'yes' if s.dp else 'no'}</td></tr>"
        for name, s in (("current window", report.current), ("previous window", report.previous))
    )
    return (
        "<table><tr><th></th><th>from (UTC)</th><th>to (UTC, excluded)</th><th>predictions</th>"
        f"<th>summaries</th><th>noisy (DP)</th></tr>{rows}</table>"
        f"<p>PSI warns at {t.psi_warn:g} and alerts at {t.psi_alert:g}; Jensen–Shannon "
        f"distance warns at {t.js_warn:g}; fewer than {t.min_n} predictions in a window, or "
        f"{t.min_baseline} rows in the training baseline, is not enough data.</p>"
    )


def _table(variables: Sequence[VariableReport]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("variable", "kind", *(f"{c} {m}" for c in ("skew", "drift") for m in _METRICS))
    )
    rows = "".join(
        f"<tr><td>{escape(v.role)} {escape(v.name)}</td><td>{escape(v.kind)}</td>"
        f"{_cells(v.skew)}{_cells(v.drift)}</tr>"
        for v in variables
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


_METRICS = ("PSI", "JS", "p", "verdict")


def _cells(comparison: Comparison) -> str:
    values = (comparison.psi, comparison.js, comparison.p_value)
    numbers = "".join(f"<td>{'–' if v is None else f'{v:.3f}'}</td>" for v in values)
    return f"{numbers}<td>{_badge(comparison.verdict)}</td>"


def _distribution(variable: VariableReport) -> str:
    series = [("baseline", variable.baseline), ("current", variable.current)]
    if any(variable.previous):
        series.append(("previous", variable.previous))
    chart = bar_chart(f"{variable.role} {variable.name}", variable.bins, series)
    legend = "".join(f'<span class="l{i}">{name}</span>' for i, (name, _) in enumerate(series))
    return (
        f"<figure><figcaption>{escape(variable.role)} <b>{escape(variable.name)}</b> "
        f"{_badge(variable.verdict)}</figcaption>{chart}<div class=legend>{legend}</div></figure>"
    )


def _history(report: DriftReport, history: Sequence[tuple[str, dict[str, float | None]]]) -> str:
    def peak(key: str) -> float:
        return max((values.get(key) or 0.0 for _, values in history), default=0.0)

    keys = sorted((feature_key(f.name) for f in report.features), key=peak, reverse=True)
    shown = [(key.removeprefix(FEATURE_PREFIX), key) for key in keys[:HISTORY_LINES]]
    shown.append((f"{report.output.name} (output)", OUTPUT))
    series = [(name, [values.get(key) for _, values in history]) for name, key in shown]
    t = report.thresholds
    chart = line_chart(
        f"PSI per {report.window} window",
        [end[5:] for end, _ in history],  # MM-DDTHH
        series,
        guides=[("warn", t.psi_warn), ("alert", t.psi_alert)],
    )
    legend = "".join(
        f'<span class="l{i}">{escape(name)}</span>' for i, (name, _) in enumerate(shown)
    )
    return (
        f"<figure>{chart}<div class=legend>{legend}</div><figcaption>The "
        f"{len(shown) - 1} features with the highest PSI and the output, per {report.window} "
        "window ending at the UTC hour shown; gaps are windows without enough data."
        "</figcaption></figure>"
    )


def _accuracy(report: DriftReport, history: Sequence[tuple[str, AccuracyEstimate]]) -> list[str]:
    estimate = report.accuracy
    assert estimate is not None
    now = (
        f"{estimate.value:.1%} ({estimate.level:.0%} interval {estimate.low:.1%} to "
        f"{estimate.high:.1%}) over {estimate.n} predictions in the current window"
        if estimate.value is not None and estimate.low is not None and estimate.high is not None
        else f"not enough data ({estimate.n} predictions, {report.thresholds.min_n} needed)"
    )
    series = [
        (name, [getattr(e, key) for _, e in history])
        for name, key in (("estimate", "value"), ("low", "low"), ("high", "high"))
    ]
    chart = line_chart(
        f"Estimated accuracy per {report.window} window", [end[5:] for end, _ in history], series
    )
    legend = "".join(f'<span class="l{i}">{name}</span>' for i, (name, _) in enumerate(series))
    return [
        f"<h2>Estimated accuracy</h2><p id=estimated-accuracy>Estimated without labels: {now}. "
        f"{escape(estimate.method)}, as calibrated on the evaluation data; it sees inputs "
        "moving to where the model is less sure, not a change in what the right answer is.</p>",
        f"<figure>{chart}<div class=legend>{legend}</div><figcaption>Per {report.window} "
        "window ending at the UTC hour shown, with its interval; gaps are windows without "
        "enough data.</figcaption></figure>",
    ]


def _skew_order(variable: VariableReport) -> float:
    return -(variable.skew.psi or 0.0)
