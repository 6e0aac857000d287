"""Writing a stack directory so readers never see a half-written tree."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from vllm_infra.outputs.writers import StackFiles


def write_stack_dir(directory: Path, files: StackFiles) -> None:
    """Replace ``directory`` with exactly ``files``: written to a sibling temp dir, then swapped in
    by rename, so a failure leaves the old tree.

    Files are not fsynced: the tree is reproducible from the stacks and lives in a git checkout,
    and a sync per file costs more than rendering (about 0.2 ms each, 2 s for 10,000 objects)."""
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=parent))
    backup = parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        for relative, content in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        staging.chmod(0o755)
        if directory.exists():
            directory.rename(backup)
        try:
            staging.rename(directory)
        except OSError:
            if backup.exists():
                backup.rename(directory)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(backup, ignore_errors=True)
