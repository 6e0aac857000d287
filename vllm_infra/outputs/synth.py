"""Engine-free synthesis: stack files -> validated fleets -> objects -> files of one layout.

Everything is computed in memory first; nothing is written unless every requested stack loads and
renders, so bad input never leaves a half-updated tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vllm_infra.outputs.stack_config import ConfigProblem, StackConfigError, find_stacks, load_stack
from vllm_infra.outputs.writers import RenderedStack, StackFiles, Writer
from vllm_infra.outputs.writers.flat import FlatWriter
from vllm_infra.render import Manifest, PatchError, render_fleet
from vllm_infra.spec.fleet import FleetSpec


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack, rendered and laid out as files."""

    name: str
    source: Path
    fleet: FleetSpec
    objects: list[Manifest]
    files: StackFiles


def select_stacks(stacks_dir: Path, names: Sequence[str]) -> dict[str, Path]:
    """Stack files for ``names`` (all stacks when empty); unknown names are problems."""
    available = find_stacks(stacks_dir)
    if not available:
        raise StackConfigError([ConfigProblem(str(stacks_dir), None, "",
                                              "no stack files (Pulumi.<stack>.yaml) found")])
    missing = [name for name in names if name not in available]
    if missing:
        known = ", ".join(available)
        raise StackConfigError([ConfigProblem(str(stacks_dir / f"Pulumi.{name}.yaml"), None, "",
                                              f"stack '{name}' not found (available: {known})")
                                for name in missing])
    return {name: available[name] for name in names} if names else available


def synthesize(stacks_dir: Path, names: Sequence[str] = (), writer: Writer | None = None) -> list[SynthesizedStack]:
    """Load, validate, render and lay out stacks; raises StackConfigError listing the problems of
    every stack."""
    layout = writer or FlatWriter()
    selected = select_stacks(stacks_dir, names)
    problems: list[ConfigProblem] = []
    results = []
    for name, path in selected.items():
        try:
            fleet = load_stack(path)
            objects = render_fleet(fleet)
        except StackConfigError as exc:
            problems += exc.problems
            continue
        except PatchError as exc:
            problems.append(ConfigProblem(str(path), None, "", str(exc)))
            continue
        source = f"{stacks_dir.name}/{path.name}"  # stable header text wherever the stacks live
        files = layout.files(RenderedStack(name, source, objects))
        results.append(SynthesizedStack(name, path, fleet, objects, files))
    if problems:
        raise StackConfigError(problems)
    return results
