"""What the commands print: the build's tables, the drift report and the outcome rates."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from staticml.collector.report import DriftReport
from staticml.drift import NOT_ENOUGH_DATA, Comparison
from staticml.figures import figure, human_size, metric_text
from staticml.runtime.contract import REPORT_PAGE
from staticml.stages import BuildResult

TOO_FEW = "too few"


def _stdout() -> Console:
    # Not a terminal (CI logs, a pipe): wide enough for the whole table rather than 80 columns.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)


def print_summary(
    result: BuildResult, next_step: str | None, console: Console | None = None
) -> None:
    # Not a terminal: 120 columns, as `_stdout`, rather than 80 that cut the variants' cells.
    console = console or Console(stderr=True, width=None if sys.stderr.isatty() else 120)
    table = Table(
        title=f"Built release {result.release} → {result.out_dir}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("asset")
    table.add_column("raw", justify="right")
    table.add_column("gzip", justify="right")
    table.add_column("brotli", justify="right")
    largest = sorted(result.assets, key=lambda a: -a.size)[:6]
    for asset in largest:
        sizes = {e.encoding: len(e.data) for e in result.encoded.get(asset.path, ())}
        table.add_row(
            asset.path,
            human_size(asset.size),
            human_size(sizes.get("gzip", asset.size)),
            human_size(sizes.get("br", asset.size)),
        )
    table.add_section()
    table.add_row(
        f"all {len(result.assets)} files",
        human_size(result.raw_bytes),
        human_size(result.served_bytes("gzip")),
        human_size(result.served_bytes("br")),
    )
    console.print(table)
    console.print(model_table(result.model_report))
    console.print(
        f"Shipped model: {result.model_report['choice']['variant']}: "
        f"{result.model_report['choice']['explanation']}. Report: {result.out_dir / REPORT_PAGE}"
    )
    console.print(f"{result.samples} sample(s) shipped with CPython reference predictions.")
    if result.verification:
        console.print(result.verification.describe())
    if result.skipped:
        console.print(f"Skipped (--no-browser): {'; '.join(result.skipped)}.")
    if next_step:
        console.print(f"Next: [bold]{next_step}[/bold]  then open http://127.0.0.1:8000")


def model_table(report: dict[str, Any]) -> Table:
    """Every variant's figures, as in the report page; why each rejected one was rejected, and
    why each compression that does not apply to the model does not (once for all its variants)."""
    evaluation, budget = report["evaluation"], report["budget"]
    table = Table(
        title=f"Model variants, measured on {evaluation['rows']} records",
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    metric = "acc." if budget["metric"] == "accuracy" else budget["metric"]
    columns = ("variant", "brotli", metric, "drop", "CPython", "browser", "")
    for name in columns:
        table.add_column(name, justify="left" if name in ("variant", "") else "right", no_wrap=True)
    for row in report["variants"]:
        table.add_row(
            row["name"],
            human_size((row["bytes"] or {}).get("brotli")),
            metric_text(report, row["metric"]),
            figure(row["drop"], "drop"),
            figure(row["cpython_ms"], "decimal"),
            figure(row["browser_ms"], "decimal"),
            verdict(report, row),
        )
    notes = [
        f"Data: {evaluation['source']}. Budget: {budget['description']}. "
        "CPython, browser: median ms per row. Every variant is also scored in batches "
        f"({'; '.join(evaluation['batches'])}) and compared with its rows scored alone.",
        *(
            f"{row['name']} rejected: {'; '.join(row['reasons'])}"
            for row in report["variants"]
            if verdict(report, row) == "rejected"
        ),
        *(f"{', '.join(names)} — {reason}" for reason, names in _not_applicable(report).items()),
    ]
    table.caption = "\n".join(notes)
    return table


def _not_applicable(report: dict[str, Any]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for row in report["variants"]:
        if row["not_applicable"] is not None:
            grouped.setdefault(row["not_applicable"], []).append(row["name"])
    return grouped


def verdict(report: dict[str, Any], row: dict[str, Any]) -> str:
    if row["name"] == report["choice"]["variant"]:
        return "shipped"
    return str(row["status"])


def print_drift(report: DriftReport, failures: Sequence[str]) -> None:
    console = _stdout()
    current, previous = report.current, report.previous
    table = Table(
        title=f"Release {report.release}: {report.window} to {current.end} UTC, "
        f"{current.n} predictions ({previous.n} in the window before)",
        title_justify="left",
    )
    for column in ("variable", "skew PSI", "JS", "p", "skew", "drift PSI", "JS", "p", "drift"):
        table.add_column(column, justify="left" if column == "variable" else "right")
    for variable in report.variables:
        label = f"{variable.name} (output)" if variable.role == "output" else variable.name
        table.add_row(label, *_cells(variable.skew), *_cells(variable.drift))
    console.print(table)
    if any(
        v.skew.verdict == NOT_ENOUGH_DATA or v.drift.verdict == NOT_ENOUGH_DATA
        for v in report.variables
    ):
        console.print(
            f"{TOO_FEW}: not enough data, fewer than {report.thresholds.min_n} predictions in "
            "the window or the one it is compared with; not judged."
        )
    estimate = report.accuracy
    if estimate is not None:
        console.print(
            f"Estimated accuracy (without labels): {estimate.value:.3f}, {estimate.level:.0%} "
            f"interval {estimate.low:.3f} to {estimate.high:.3f}, from {estimate.n} predictions."
            if estimate.value is not None
            else f"Estimated accuracy: not enough data ({estimate.n} predictions)."
        )
    for line in failures:
        console.print(f"[bold red]crossed:[/bold red] {line}")
    if not failures:
        console.print(f"Verdict: {report.verdict}; no --fail-on condition crossed.")


def _cells(comparison: Comparison) -> list[str]:
    psi, js, p = (
        "–" if v is None else f"{v:{spec}}"
        for v, spec in (
            (comparison.psi, ".3f"),
            (comparison.js, ".3f"),
            (comparison.p_value, ".2g"),
        )
    )
    verdict = TOO_FEW if comparison.verdict == NOT_ENOUGH_DATA else comparison.verdict
    return [psi, js, p, verdict]


def print_outcomes(report: dict[str, Any], window: str) -> None:
    console = _stdout()
    table = Table(title=f"Feedback per release, last {window}", title_justify="left")
    for column in ("release", "right", "wrong", "rate", "95% confidence sequence"):
        table.add_column(column, justify="left" if column == "release" else "right")
    for release, rate in report["variants"].items():
        low, high = rate["interval"]
        table.add_row(
            release,
            str(rate["right"]),
            str(rate["wrong"]),
            f"{rate['rate']:.1%}",
            f"{low:.1%} – {high:.1%}",
        )
    console.print(table)
    for pair in report["comparisons"]:
        low, high = pair["interval"]
        console.print(
            f"{pair['a']} vs {pair['b']}: difference {pair['difference']:+.1%}, "
            f"{100 * (1 - pair['alpha']):.4g}% confidence sequence {low:+.1%} to {high:+.1%}: "
            + _pair_verdict(pair)
        )
    for release, shadows in report["shadows"].items():
        for shadow, entry in shadows.items():
            low, high = entry["interval"]
            console.print(
                f"shadow {shadow} beside {release}: agreed {entry['agree']} of {entry['n']} "
                f"({entry['agreement']:.1%}, 95% confidence sequence {low:.1%} – {high:.1%})"
            )


def _pair_verdict(pair: dict[str, Any]) -> str:
    if pair["verdict"] is not None:
        return f"{pair['verdict']} is better"
    if pair["needed"] is None:
        return "no difference shown, and none would be at the current rates"
    more = pair["needed"]
    return f"no difference shown yet; about {more:,} more outcomes in all at the current rates"
