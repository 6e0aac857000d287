"""Comparing what synth would write with a stack directory on disk: the drift gate, and the first
half of writing (only files that differ are written). Parts of a large stack are compared in
forked children, each emitting and comparing its own files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from vllm_infra.outputs.writers import LayoutError, StackFile, StackPart
from vllm_infra.vocabulary.progress import Advance, ignore
from vllm_infra.workers import Forked, worker_count


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


def inside(root: Path, relative: PurePosixPath) -> Path:
    """``root / relative``, refusing paths that would leave ``root``."""
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise LayoutError(f"refusing to write {relative}: outside the stack directory")
    return root / relative


def committed_files(directory: Path) -> set[str]:
    """Every file under ``directory``, as a POSIX path relative to it (nested layouts included;
    strings rather than path objects, which cost several times more memory in large trees)."""
    if not directory.is_dir():
        return set()
    return {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}


def file_drift(directory: Path, existing: set[str], file: StackFile) -> Drift | None:
    """How one file synth would write differs from the committed one (None when identical)."""
    path, content = file
    if str(path) not in existing:
        return Drift(directory / path, DriftStatus.MISSING)
    if (directory / path).read_bytes() != content:
        return Drift(directory / path, DriftStatus.CHANGED)
    return None


@dataclass(frozen=True)
class PartOutcome:
    """What comparing one part found."""

    produced: list[str]
    """Every path the part produced, in order."""
    differing: list[Drift]
    """Its files that are missing from the directory or differ (written to staging, if given)."""


def compare_part(directory: Path, existing: set[str], part: StackPart, staging: Path | None) -> PartOutcome:
    """Compare one part's files with ``directory``; write those that differ into ``staging``."""
    produced, differing, made = [], [], set()
    for relative, content in part():
        inside(directory, relative)
        produced.append(str(relative))
        found = file_drift(directory, existing, (relative, content))
        if found is None:
            continue
        differing.append(found)
        if staging is not None:
            target = inside(staging, relative)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(content)
    return PartOutcome(produced, differing)


PARALLEL_MIN_PARTS = 3
"""Two or more object parts plus the index: below that, forking does not pay."""


def compare_parts(directory: Path, parts: Sequence[StackPart], staging: Path | None = None,
                  advance: Advance = ignore) -> tuple[set[str], list[PartOutcome]]:
    """The directory's files, and each part compared with them (in forked children when there are
    several parts and CPUs); ``advance`` counts files."""
    existing = committed_files(directory)
    workers = worker_count() if len(parts) >= PARALLEL_MIN_PARTS else 1
    results = Forked(lambda index: compare_part(directory, existing, parts[index], staging), len(parts), workers) \
        if workers > 1 else (compare_part(directory, existing, part, staging) for part in parts)
    outcomes = []
    for outcome in results:
        outcomes.append(outcome)
        advance(len(outcome.produced))
    return existing, outcomes


def find_drift(directory: Path, parts: Sequence[StackPart], advance: Advance = ignore) -> list[Drift]:
    """Differences between a stack directory on disk and the files synth would write."""
    existing, outcomes = compare_parts(directory, parts, advance=advance)
    produced = {path for outcome in outcomes for path in outcome.produced}
    drift = [item for outcome in outcomes for item in outcome.differing]
    drift += [Drift(directory / path, DriftStatus.EXTRA) for path in existing - produced]
    return sorted(drift, key=lambda item: str(item.path))
