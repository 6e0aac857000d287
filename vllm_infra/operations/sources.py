"""The two sides a diff compares: stack files in a directory, or as a git revision holds them
(materialized into a scratch directory, nothing in the work tree touched)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vllm_infra.operations.diff import StackSide
from vllm_infra.outputs.stack_config import StackConfigError, find_stacks, load_stack
from vllm_infra.render import PatchError, render_fleet

DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "main", "origin/master", "master")
GIT_TIMEOUT_SECONDS = 60


class SourceError(Exception):
    """A side that cannot be read (not a directory, not a revision, no git)."""


def _git(directory: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                                timeout=GIT_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SourceError(f"git {' '.join(args)}: {error}") from None
    if result.returncode != 0:
        raise SourceError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout


def default_base(stacks_dir: Path) -> str:
    """The merge base of HEAD with the default branch (``origin/HEAD``, else main or master)."""
    for branch in DEFAULT_BRANCHES:
        try:
            return _git(stacks_dir, "merge-base", "HEAD", branch).strip()
        except SourceError:
            continue
    raise SourceError("no default branch (origin/HEAD, main or master) to compare with; pass --base")


def materialize(revision: str, stacks_dir: Path, scratch: Path) -> Path:
    """The stack files of ``stacks_dir`` as ``revision`` holds them, written under ``scratch``."""
    top = Path(_git(stacks_dir, "rev-parse", "--show-toplevel").strip())
    relative = stacks_dir.resolve().relative_to(top.resolve()).as_posix()
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except SourceError:
        raise SourceError(f"{revision!r} is neither a directory nor a git revision") from None
    target = scratch / "stacks"
    target.mkdir(parents=True)
    for name in _git(top, "ls-tree", "--name-only", revision, f"{relative}/").splitlines():
        filename = Path(name).name
        if filename.startswith("Pulumi.") and filename.endswith((".yaml", ".yml")) and filename != "Pulumi.yaml":
            (target / filename).write_text(_git(top, "show", f"{revision}:{name}"))
    return target


def load_side(directory: Path) -> dict[str, StackSide]:
    """Every stack file of a directory, validated and rendered (a stack that fails says why)."""
    sides = {}
    for name, path in find_stacks(directory).items():
        try:
            fleet = load_stack(path)
            sides[name] = StackSide(fleet, render_fleet(fleet))
        except StackConfigError as error:
            sides[name] = StackSide(None, (), f"{len(error.problems)} problem(s) in the stack file; first: "
                                              f"{error.problems[0]}")
        except PatchError as error:
            sides[name] = StackSide(None, (), str(error))
    return sides
