"""The table printed after a build: what was written and what a visitor downloads."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from staticml.stages import BuildResult


def human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


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
            human(asset.size),
            human(sizes.get("gzip", asset.size)),
            human(sizes.get("br", asset.size)),
        )
    table.add_section()
    table.add_row(
        f"all {len(result.assets)} files",
        human(result.raw_bytes),
        human(result.served_bytes("gzip")),
        human(result.served_bytes("br")),
    )
    console.print(table)
    console.print(f"{result.samples} sample(s) shipped with CPython reference predictions.")
    if result.verification:
        console.print(result.verification.describe())
    if next_step:
        console.print(f"Next: [bold]{next_step}[/bold]  then open http://127.0.0.1:8000")
