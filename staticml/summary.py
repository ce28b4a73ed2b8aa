"""The tables printed after a build: what was written, what a visitor downloads, and the model."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from staticml.stages import BuildResult
from staticml.stages.report import REPORT_PAGE, figure, human_size, metric_text


def print_summary(
    result: BuildResult, next_step: str | None, console: Console | None = None
) -> None:
    console = console or Console(stderr=True)
    table = Table(title=f"Built release {result.release} → {result.out_dir}", title_justify="left")
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
    if next_step:
        console.print(f"Next: [bold]{next_step}[/bold]  then open http://127.0.0.1:8000")


def model_table(report: dict[str, Any]) -> Table:
    """Every variant's figures, as in the report page; why each rejected one was rejected."""
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
    ]
    table.caption = "\n".join(notes)
    return table


def verdict(report: dict[str, Any], row: dict[str, Any]) -> str:
    if row["name"] == report["choice"]["variant"]:
        return "shipped"
    return "passed" if row["passed"] else "rejected"
