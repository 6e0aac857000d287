"""Reading input files defensively: only regular files, never more than a limit, so a FIFO, a
device or a link to ``/dev/zero`` gives an error instead of a hang or MemoryError."""

from __future__ import annotations

import os
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
    """A regular file's bytes, at most MAX_FILE_BYTES; OSError (with the reason) otherwise. The
    file is opened non-blocking and judged by ``fstat`` of what was opened (a FIFO cannot block
    the open, nor be swapped in after a check); it reads what ``fstat`` announced, then whatever a
    growing file adds, up to the limit."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise OSError(unreadable_reason(path) or f"cannot read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError("not a regular file (a FIFO, socket or device is never read)")
        if status.st_size > MAX_FILE_BYTES:
            raise OSError(f"larger than the {MAX_FILE_BYTES // 2**20} MiB limit for one file")
        data = handle.read(status.st_size + 1)
        while status.st_size < len(data) <= MAX_FILE_BYTES:  # it holds more than fstat said
            more = handle.read(min(2**20, MAX_FILE_BYTES + 1 - len(data)))
            if not more:
                break
            data += more
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"larger than the {MAX_FILE_BYTES // 2**20} MiB limit for one file")
    return data
