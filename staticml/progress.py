"""How the build reports progress: a tiny protocol, a silent default and a rich bar for the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID


class Reporter(Protocol):
    def stage(self, name: str, total: int | None = None) -> None:
        """A new stage starts; `total` units of work if it can be counted."""

    def advance(self, amount: int = 1) -> None:
        """`amount` units of the current stage are done."""

    def finish(self) -> None:
        """The build is over (successfully or not)."""


class SilentReporter:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class RichReporter:
    """A progress bar on stderr, one line per stage."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._task: TaskID | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        self._complete()
        self._progress.start()  # at the first stage, so a job failing before one prints nothing
        self._task = self._progress.add_task(name, total=total if total is not None else 1)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        self._complete()
        if self._task is not None:
            self._progress.stop()

    def _complete(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total)
