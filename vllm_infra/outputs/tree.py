"""Writing a stack directory so readers never see a half-written tree, and an unchanged stack is
not rewritten."""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from vllm_infra.outputs.drift import compare_parts
from vllm_infra.outputs.writers import StackPart
from vllm_infra.serialization.files import STAGING_DIRECTORY
from vllm_infra.vocabulary.markers import STAGING_MARKER
from vllm_infra.vocabulary.progress import Advance, ignore


def _carry_over(source: Path, target: Path) -> None:
    """An unchanged file into the new tree: a hard link (no copy; the old tree is removed next),
    or a copy where links are not possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_stack_dir(directory: Path, parts: Sequence[StackPart], advance: Advance = ignore) -> bool:
    """Make ``directory`` hold exactly the parts' files; returns whether anything changed.

    Each file is compared with the tree; those that differ go to a sibling staging directory,
    which (completed with the unchanged files) replaces ``directory`` by rename, so a failure leaves
    the old tree. Files are not fsynced: the tree is reproducible from the stacks and lives in a
    git checkout, and a sync per file costs more than rendering (about 0.2 ms each)."""
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(directory)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=parent))
    backup = parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        os.close(os.open(staging / STAGING_MARKER, os.O_CREAT | os.O_WRONLY, 0o644))  # check leaves it alone
        existing, outcomes = compare_parts(directory, parts, staging, advance)
        produced = [path for outcome in outcomes for path in outcome.produced]
        differing = {str(item.path.relative_to(directory)) for outcome in outcomes for item in outcome.differing}
        if not differing and set(produced) == existing:
            return False
        for path in produced:
            if path not in differing:
                _carry_over(directory / path, staging / path)
        (staging / STAGING_MARKER).unlink()
        staging.chmod(0o755)
        if directory.is_dir() and not directory.is_symlink() and _exchange(staging, directory):
            return True  # staging now holds the old tree, removed below
        if directory.exists() or directory.is_symlink():
            directory.rename(backup)
        try:
            staging.rename(directory)
        except OSError:
            if backup.exists():
                backup.rename(directory)
            raise
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(backup, ignore_errors=True)


def remove_leftovers(directory: Path) -> None:
    """Staging and backup directories an interrupted run of ``directory`` left beside it."""
    prefix = f".{directory.name}."
    for sibling in directory.parent.iterdir():
        if sibling.name.startswith(prefix) and STAGING_DIRECTORY.match(sibling.name) and sibling.is_dir() \
                and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so at every instant
    one of the two trees is at ``second``; False where the system cannot, and the caller renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def write_file(path: Path, text: str) -> None:
    """Replace one file atomically (a sibling temporary file renamed over it), so a reader sees
    the old or the new content; a link at ``path`` is replaced, never followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        temporary.chmod(0o644)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class TreeBusy(OSError):
    """Another run holds the directory's lock past the wait."""


@contextmanager
def exclusive(directory: Path, wait: float, waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold an exclusive lock for writing ``directory`` while a run writes it: an advisory ``flock``
    on its nearest existing ancestor (a directory, so no lock file lands anywhere and nothing is
    made before the run decides to write). A second ``synth`` or ``promote`` on the same tree waits
    for the first (``waiting`` is told once), or raises TreeBusy after ``wait`` seconds. The lock
    goes with the process, however it ends."""
    anchor = next(path for path in (directory.absolute(), *directory.absolute().parents) if path.is_dir())
    handle = os.open(anchor.parent if anchor == directory.absolute() else anchor, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TreeBusy(f"{directory} is being written by another vllm-infra run (waited {wait:g}s)") \
                        from None
                if not told:
                    waiting()
                    told = True
                time.sleep(0.1)
        yield
    finally:
        os.close(handle)
