"""The dashboard's rollout section: each release's feedback rate, each pair's difference and
each shadow's agreement, with its confidence sequence and what it would take to decide."""

from __future__ import annotations

from html import escape
from typing import Any


def rollout_section(report: dict[str, Any]) -> str:
    """HTML for the rollout report of the window (empty when no feedback or shadow came)."""
    if not report["variants"] and not report["shadows"]:
        return ""
    return "".join(
        [
            "<h2>Rollout: feedback and shadows</h2>",
            "<p>Intervals are anytime-valid 95% confidence sequences: they may be read after "
            "every batch of feedback.</p>",
            _variants(report["variants"]),
            _pairs(report["comparisons"]),
            _shadows(report["shadows"]),
        ]
    )


def _variants(variants: dict[str, Any]) -> str:
    if not variants:
        return ""
    rows = "".join(
        f"<tr><td>{escape(release)}</td><td>{r['right']}</td><td>{r['wrong']}</td>"
        f"<td>{r['rate']:.1%}</td><td>{_span(r['interval'], '.1%')}</td></tr>"
        for release, r in variants.items()
    )
    return (
        "<table><tr><th>release</th><th>right</th><th>wrong</th><th>rate</th>"
        f"<th>confidence sequence</th></tr>{rows}</table>"
    )


def _pairs(pairs: list[dict[str, Any]]) -> str:
    if not pairs:
        return ""
    rows = "".join(
        f"<tr><td>{escape(p['a'])} - {escape(p['b'])}</td><td>{p['difference']:+.1%}</td>"
        f"<td>{_span(p['interval'], '+.1%')}</td><td>{p['alpha']:.3g}</td>"
        f"<td>{escape(_verdict(p))}</td></tr>"
        for p in pairs
    )
    return (
        "<table><tr><th>difference</th><th>estimate</th><th>confidence sequence</th>"
        f"<th>level</th><th>verdict</th></tr>{rows}</table>"
    )


def _verdict(pair: dict[str, Any]) -> str:
    if pair["verdict"] is not None:
        return f"{pair['verdict']} is better"
    if pair["needed"] is None:
        return "no difference, nor at the current rates"
    return f"undecided: about {pair['needed']:,} more outcomes at the current rates"


def _shadows(shadows: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(shadow)} beside {escape(release)}</td><td>{e['agree']}</td>"
        f"<td>{e['n']}</td><td>{e['agreement']:.1%}</td><td>{_span(e['interval'], '.1%')}</td></tr>"
        for release, by_shadow in shadows.items()
        for shadow, e in by_shadow.items()
    )
    if not rows:
        return ""
    return (
        "<table><tr><th>shadow</th><th>agreed</th><th>compared</th><th>agreement</th>"
        f"<th>confidence sequence</th></tr>{rows}</table>"
    )


def _span(interval: list[float] | None, spec: str) -> str:
    if interval is None:
        return "–"
    low, high = interval
    return f"{low:{spec}} to {high:{spec}}"
