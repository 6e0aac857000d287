"""How long library calls report progress without knowing about terminals: the caller passes a
``Progress``; the call opens a phase with its amount of work and reports units as they finish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]
"""Report this many more units of the current phase done."""


class Progress(Protocol):
    """Where a long call reports its phases."""

    def phase(self, label: str, total: int) -> Advance:
        """Start a phase of ``total`` units (ending the previous one)."""
        ...


def ignore(_units: int) -> None:
    """An ``Advance`` that reports nowhere."""


class _Silent:
    def phase(self, label: str, total: int) -> Advance:
        return ignore


SILENT: Progress = _Silent()
"""Reports nothing (the default of every library call)."""
