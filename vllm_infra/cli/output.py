"""Terminal output shared by commands: results on stdout, diagnostics on stderr, no markup
interpretation of user-supplied text."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from vllm_infra.vocabulary.exits import ExitCode

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(summary: str, details: list[str] | None = None, code: ExitCode = ExitCode.BAD_INPUT) -> NoReturn:
    """Print an error with one line per detail and exit with ``code``."""
    stderr.print(f"error: {summary}", markup=False, style="bold red")
    for line in details or []:
        stderr.print(f"  {line}", markup=False)
    raise typer.Exit(int(code))
