"""One way to name a place inside an object: a tuple of keys and list indexes."""

from __future__ import annotations

from collections.abc import Iterable

FieldPath = tuple[str | int, ...]
"""``('spec', 'containers', 0, 'name')``: mapping keys and sequence indexes from the root."""


def format_path(parts: Iterable[str | int]) -> str:
    """``('spec', 'containers', 0, 'name')`` -> ``spec.containers[0].name``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
