"""Engine-free synthesis: stack files -> validated fleets -> objects, laid out by one writer.

Every requested stack is loaded, rendered and laid out (paths only) before anything is written, so
bad input never leaves a half-updated tree. A stack keeps its objects, not its spec or its file
contents: files are produced one at a time when they are written or compared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vllm_infra.outputs.stack_config import ConfigProblem, StackConfigError, find_stacks, load_stack
from vllm_infra.outputs.writers import (
    LayoutError,
    RenderedStack,
    StackFile,
    StackPart,
    Writer,
    stack_files,
    stack_parts,
)
from vllm_infra.outputs.writers.flat import FlatWriter
from vllm_infra.outputs.writers.kustomize import LAYOUT_DIRECTORY
from vllm_infra.render import Manifest, PatchError, render_fleet
from vllm_infra.render.delivery import render_delivery
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.progress import SILENT, Progress
from vllm_infra.vocabulary.reporting import Profile


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack, rendered, with the layout that turns it into files."""

    name: str
    source: Path
    policy_profile: Profile
    objects: list[Manifest]
    writer: Writer
    file_count: int
    """How many files ``files`` produces."""
    cluster: ClusterSpec | None = None
    """The stack's node inventory, which the policy gate simulates scheduling on."""
    delivery: list[Manifest] = field(default_factory=list)
    """The Argo CD or Flux objects of the stack (none when Pulumi delivers it)."""
    kubernetes_version: str = KUBERNETES_VERSION
    """The Kubernetes version of the stack's cluster, which the policy gate checks against."""

    @property
    def rendered(self) -> RenderedStack:
        """What the writer lays out."""
        return _rendered(self.name, self.source, self.objects, self.policy_profile, self.delivery,
                         self.kubernetes_version)

    def parts(self) -> list[StackPart]:
        """The stack directory's files in independent parts (see ``writers.stack_parts``)."""
        return stack_parts(self.writer, self.rendered)

    def files(self) -> Iterator[StackFile]:
        """The stack directory's files with their content, one at a time."""
        return stack_files(self.writer, self.rendered)


def select_stacks(stacks_dir: Path, names: Sequence[str]) -> dict[str, Path]:
    """Stack files for ``names`` (all stacks when empty); unknown names are problems."""
    available = find_stacks(stacks_dir)
    if not available:
        raise StackConfigError([ConfigProblem(str(stacks_dir), None, "",
                                              "no stack files (Pulumi.<stack>.yaml) found")])
    reserved = [ConfigProblem(str(path), None, "", f"stack name '{name}' is reserved for the kustomize layout "
                                                   f"(<out>/{name}/); rename the stack file")
                for name, path in available.items() if name == LAYOUT_DIRECTORY]
    if reserved:
        raise StackConfigError(reserved)
    missing = [name for name in names if name not in available]
    if missing:
        known = ", ".join(available)
        raise StackConfigError([ConfigProblem(str(stacks_dir / f"Pulumi.{name}.yaml"), None, "",
                                              f"stack '{name}' not found (available: {known})")
                                for name in missing])
    return {name: available[name] for name in names} if names else available


def _rendered(name: str, source: Path, objects: list[Manifest], profile: Profile, delivery: list[Manifest],
              kubernetes_version: str) -> RenderedStack:
    """Headers name the stack file relative to its directory's parent (stable across checkouts)."""
    return RenderedStack(name, f"{source.parent.name}/{source.name}", objects, profile, delivery, kubernetes_version)


def _synthesize_stack(name: str, path: Path, layout: Writer, progress: Progress) -> SynthesizedStack:
    fleet = load_stack(path)
    objects = render_fleet(fleet, progress.phase(f"rendering {name}", len(fleet.services)))
    delivery = render_delivery(fleet, name, objects)
    rendered = _rendered(name, path, objects, fleet.policy_profile, delivery, fleet.kubernetes_version)
    files = len(layout.paths(rendered))  # a layout conflict is refused here
    return SynthesizedStack(name, path, fleet.policy_profile, objects, layout, files, fleet.cluster, delivery,
                            fleet.kubernetes_version)


def synthesize(stacks_dir: Path, names: Sequence[str] = (), writer: Writer | None = None,
               progress: Progress = SILENT) -> list[SynthesizedStack]:
    """Load, validate, render and lay out stacks; raises StackConfigError listing the problems of
    every stack."""
    layout = writer or FlatWriter()
    problems: list[ConfigProblem] = []
    results = []
    for name, path in select_stacks(stacks_dir, names).items():
        try:
            results.append(_synthesize_stack(name, path, layout, progress))
        except StackConfigError as exc:
            problems += exc.problems
        except (PatchError, LayoutError) as exc:
            problems.append(ConfigProblem(str(path), None, "", str(exc)))
    if problems:
        raise StackConfigError(problems)
    return results
