"""Reading input files defensively: only regular files, never more than a limit, so a FIFO, a
device or a link to ``/dev/zero`` gives an error instead of a hang or MemoryError."""

from __future__ import annotations

import re
import stat
from pathlib import Path

STAGING_DIRECTORY = re.compile(r"^\..+\.(new|old)-[A-Za-z0-9_]+$")
"""synth's staging and backup directories beside a stack directory (``.dev.new-x1y2``,
``.dev.old-1a2b3c4d``): removed by the next run, never read as manifests."""

MAX_FILE_BYTES = 64 * 2**20
"""Largest input file read (a stack file, or one manifest file of a tree)."""


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` will not be read, or None when it is a regular file within the limit."""
    try:
        status = path.stat()
    except OSError as error:
        return "dangling symbolic link" if path.is_symlink() else f"cannot read: {error.strerror}"
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file (a FIFO, socket or device is never read)"
    if status.st_size > MAX_FILE_BYTES:
        return f"larger than the {MAX_FILE_BYTES // 2**20} MiB limit for one file"
    return None


def read_limited(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_FILE_BYTES; OSError (with the reason) otherwise."""
    reason = unreadable_reason(path)
    if reason is not None:
        raise OSError(reason)
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"larger than the {MAX_FILE_BYTES // 2**20} MiB limit for one file")
    return data
