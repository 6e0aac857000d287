"""What a process exit code means, for every command."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """0 ok, 1 findings or drift, 2 bad input (or nothing could be read)."""

    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
