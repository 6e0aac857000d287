"""Terminal output shared by commands: results on stdout, diagnostics on stderr, no markup
interpretation of user-supplied text."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.table import Table

from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.terminal import escape_controls

stdout = Console(highlight=False, soft_wrap=True, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
"""No emoji codes (``file:100:`` stays a line number) and no markup in user-supplied text."""


def say(text: str, console: Console = stdout) -> None:
    """One line of plain text (no markup, control characters escaped): server-supplied details and
    names a user typed reach the terminal as text, never as escapes."""
    console.print(escape_controls(text), markup=False)


UNBOUNDED_WIDTH = 10_000
"""Columns a table may take when stdout is no terminal: a pipe or a file has no width to fit."""


def print_table(table: Table) -> None:
    """A table on stdout: fitted to a terminal, at its natural width anywhere else (piped into a
    file or another program, 80 columns would cut its cells)."""
    if stdout.is_terminal:
        stdout.print(table)
        return
    from rich.measure import Measurement

    width = Measurement.get(stdout, stdout.options.update(max_width=UNBOUNDED_WIDTH), table).maximum
    Console(file=stdout.file, width=width, highlight=False, emoji=False).print(table)


def fail(summary: str, details: list[str] | None = None, code: ExitCode = ExitCode.BAD_INPUT) -> NoReturn:
    """Print an error with one line per detail and exit with ``code``."""
    stderr.print(f"error: {escape_controls(summary)}", markup=False, style="bold red")
    for line in details or []:
        say(f"  {line}", stderr)
    raise typer.Exit(int(code))
