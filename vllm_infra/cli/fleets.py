"""Reading stacks for the commands that only read them (``plan``, ``upgrade-check``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vllm_infra.cli.output import fail

if TYPE_CHECKING:
    from vllm_infra.spec.fleet import FleetSpec


def load_fleets(stacks_dir: Path, names: list[str] | None) -> dict[str, FleetSpec]:
    """The named stacks (all when none are named), validated; exit 2 listing every problem."""
    from vllm_infra.outputs.stack_config import StackConfigError, load_stack
    from vllm_infra.outputs.synth import select_stacks

    try:
        selected = select_stacks(stacks_dir, names or [])
        return {name: load_stack(path) for name, path in selected.items()}
    except StackConfigError as exc:
        fail(f"{len(exc.problems)} problem(s) in stack configuration", [str(p) for p in exc.problems])
