"""The model report: `model.json` and the page `model.html` shipped beside the app.

Both are records of one build, like `bundle.json`, not part of the release: they hold the build
time and measured latencies, which differ between two builds of the same inputs, so they are
not listed in the manifest and the release stays byte-identical. Every figure in them comes
from the measurements of `staticml.stages.compress`; `headline` is the README's summary of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from staticml.figures import figure, human_size, metric_text
from staticml.hashing import integrity
from staticml.runtime.contract import REPORT_JSON, REPORT_PAGE
from staticml.stages.assets import Asset
from staticml.templates import environment
from staticml.version import __version__

FORMAT = 1


def report_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, indent=2) + "\n").encode("utf-8")


def render_report(report: dict[str, Any], style: Asset, icon: Asset, site: Path) -> bytes:
    filters = (("size", human_size), ("figure", figure))
    template = environment((site,), filters).get_template(REPORT_PAGE)
    html = template.render(
        report=report,
        json_url=REPORT_JSON,
        style={"url": style.path, "integrity": integrity(style.sha256)},
        icon={"url": icon.path},
        staticml_version=__version__,
    )
    return html.encode("utf-8")


def variant(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in report["variants"] if v["name"] == name)


def headline(report: dict[str, Any]) -> str:
    """One paragraph on what compression did to the shipped model, from a built `model.json`."""
    original, chosen = variant(report, "fp32"), variant(report, report["choice"]["variant"])
    before, after = original["bytes"], chosen["bytes"]
    evaluation = report["evaluation"]
    metric = report["budget"]["metric"]
    measured = [v for v in report["variants"] if v["status"] != "not applicable"]
    return (
        f"The demo's model ships as **{chosen['name']}**: {human_size(before['raw'])} → "
        f"{human_size(after['raw'])} raw, {human_size(before['brotli'])} → "
        f"{human_size(after['brotli'])} as served with brotli "
        f"(**{before['brotli'] / after['brotli']:.1f}× smaller**, "
        f"{human_size(before['brotli'] - after['brotli'])} saved per visitor); "
        f"{metric} {metric_text(report, original['metric'])} → "
        f"**{metric_text(report, chosen['metric'])}** on {evaluation['rows']} held-out records "
        f"(budget: {report['budget']['description']}). "
        f"{len(measured)} variants were measured; see the build's `model.html`."
    )
