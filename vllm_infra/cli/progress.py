"""A progress bar on stderr for long runs: only on a terminal, only once a run has taken more than
``DELAY`` seconds (short runs stay silent), never with ``--quiet``, and gone when the run ends.

Refreshed from the caller's thread rather than rich's refresh thread: ``check`` forks readers, and
forking while another thread holds a lock is how processes deadlock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from vllm_infra.cli.output import stderr
from vllm_infra.vocabulary.progress import SILENT, Advance, Progress

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

DELAY = 1.0
"""Seconds a run takes before the bar appears."""
REFRESH = 0.1
"""Seconds between redraws."""

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (it shows only on a terminal, "
                                                            "for runs longer than a second).")]


class TerminalProgress:
    """Phases as one transient bar each."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar  # only a terminal run pays for importing it

        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True, auto_refresh=False)
        self._begun = time.monotonic()
        self._drawn = 0.0
        self._shown = False
        self._task: TaskID | None = None

    def phase(self, label: str, total: int) -> Advance:
        """A new bar for this phase; the previous phase's bar is removed."""
        if self._task is not None:
            self._bar.remove_task(self._task)
        task = self._bar.add_task(label, total=total)
        self._task = task

        def advance(units: int) -> None:
            self._bar.advance(task, units)
            self._redraw()

        self._redraw()
        return advance

    def _redraw(self) -> None:
        now = time.monotonic()
        if not self._shown:
            if now - self._begun < DELAY:
                return
            self._bar.start()
            self._shown = True
        if now - self._drawn >= REFRESH:
            self._bar.refresh()
            self._drawn = now

    def close(self) -> None:
        """Remove the bar (a transient bar leaves nothing behind)."""
        if self._shown:
            self._bar.stop()


@contextmanager
def progress(quiet: bool, console: Console = stderr) -> Iterator[Progress]:
    """A terminal progress bar, or silence when piped, on a dumb terminal or quiet."""
    if quiet or not console.is_interactive:
        yield SILENT
        return
    bar = TerminalProgress(console)
    try:
        yield bar
    finally:
        bar.close()
