"""Engine-free synthesis: stack files -> validated fleets -> objects -> GitOps files.

Everything is computed in memory first; nothing is written unless every requested stack loads and
renders, so bad input never leaves a half-updated tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vllm_infra.gitops import StackFiles, stack_files
from vllm_infra.render import Manifest, PatchError, render_fleet
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.stacks import ConfigProblem, StackConfigError, load_stack
from vllm_infra.stacks import stack_files as find_stack_files


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack, rendered."""

    name: str
    source: Path
    fleet: FleetSpec
    objects: list[Manifest]
    files: StackFiles


def select_stacks(stacks_dir: Path, names: Sequence[str]) -> dict[str, Path]:
    """Stack files for ``names`` (all stacks when empty); unknown names are problems."""
    available = find_stack_files(stacks_dir)
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


def synthesize(stacks_dir: Path, names: Sequence[str] = ()) -> list[SynthesizedStack]:
    """Load, validate and render stacks; raises StackConfigError listing problems of all stacks."""
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
        results.append(SynthesizedStack(name, path, fleet, objects, stack_files(source, objects)))
    if problems:
        raise StackConfigError(problems)
    return results
