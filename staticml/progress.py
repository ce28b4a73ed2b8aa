"""How the build reports progress: a tiny protocol, a silent default, and for the CLI a rich bar
on a terminal or plain lines elsewhere (`stderr_reporter`).

A bar redraws itself with cursor movements; written to a CI log or a pipe, rich prints each
redraw as a line of `━` characters. `PlainReporter` prints a stage's start and its counts
instead: "Precompressing (gzip, brotli): 30/61".
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, TextIO

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


def stderr_reporter() -> Reporter:
    """The CLI's progress: a bar when stderr is a terminal, plain lines when it is not."""
    from rich.console import Console

    return RichReporter() if Console(stderr=True).is_terminal else PlainReporter()


class PlainReporter:
    """One line per stage, and per tenth of a counted stage: nothing that redraws."""

    STEPS = 10

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._name: str | None = None
        self._total = 1
        self._done = 0

    def stage(self, name: str, total: int | None = None) -> None:
        self._name, self._total, self._done = name, total if total is not None else 1, 0
        self._print(f"{name} ...")

    def advance(self, amount: int = 1) -> None:
        if self._name is None or self._total <= 1:
            return
        before = self._done * self.STEPS // self._total
        self._done = min(self._done + amount, self._total)
        if self._done * self.STEPS // self._total > before:
            self._print(f"{self._name}: {self._done}/{self._total}")

    def finish(self) -> None:
        self._name = None

    def _print(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()


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
