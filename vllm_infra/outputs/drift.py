"""The drift gate: how a committed stack directory differs from what synth would write."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from vllm_infra.outputs.writers import StackFiles


class DriftStatus(StrEnum):
    """How a committed file differs from what synth would write."""

    CHANGED = "changed"
    MISSING = "missing"
    EXTRA = "extra"


@dataclass(frozen=True)
class Drift:
    """One file that differs."""

    path: Path
    status: DriftStatus


def committed_files(directory: Path) -> set[PurePosixPath]:
    """Every file under ``directory``, relative to it (nested layouts included)."""
    if not directory.is_dir():
        return set()
    return {PurePosixPath(path.relative_to(directory).as_posix()) for path in directory.rglob("*") if path.is_file()}


def find_drift(directory: Path, files: StackFiles) -> list[Drift]:
    """Differences between a stack directory on disk and the files synth would write."""
    existing = committed_files(directory)
    drift = [Drift(directory / path, DriftStatus.EXTRA) for path in existing - set(files)]
    for path, content in files.items():
        if path not in existing:
            drift.append(Drift(directory / path, DriftStatus.MISSING))
        elif (directory / path).read_bytes() != content:
            drift.append(Drift(directory / path, DriftStatus.CHANGED))
    return sorted(drift, key=lambda item: str(item.path))
