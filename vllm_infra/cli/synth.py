"""``vllm-infra synth``: stacks -> GitOps tree, or a drift check against the committed tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vllm_infra.cli.output import fail, say, stderr
from vllm_infra.cli.progress import Quiet, progress
from vllm_infra.vocabulary.exits import ExitCode

if TYPE_CHECKING:
    from vllm_infra.outputs.synth import SynthesizedStack
    from vllm_infra.outputs.writers import StackPart

STACKS_DIR = Path("stacks")
OUT_DIR = Path("manifests")
LOCK_WAIT_SECONDS = 600.0
"""How long a run waits for another one writing the same tree (a large fleet takes minutes)."""


class Layout(StrEnum):
    """Output layouts of ``synth``."""

    FLAT = "flat"
    KUSTOMIZE = "kustomize"


def synth(
    stacks: Annotated[list[str] | None, typer.Argument(
        help="Stacks to render (default: every stacks/Pulumi.<stack>.yaml).", show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    out: Annotated[Path, typer.Option("--out", "-o", help="GitOps output root; each stack gets a subdirectory.")]
    = OUT_DIR,
    check: Annotated[bool, typer.Option("--check", help="Write nothing to the tree; exit 1 and list files "
                                        "that differ from it (CI drift gate).")] = False,
    show_diff: Annotated[bool, typer.Option("--diff", help="With --check: also show, object by object and field "
                                            "by field, how the committed tree differs.")] = False,
    layout: Annotated[Layout, typer.Option(help="flat: <out>/<stack>/, one file per object; kustomize: "
                                                "<out>/kustomize/base/ shared by <out>/kustomize/overlays/<stack>/ "
                                                "(every stack at once).")] = Layout.FLAT,
    wait: Annotated[float, typer.Option(help="Seconds to wait while another run writes the same --out (then "
                                             "exit 2).", min=0)] = LOCK_WAIT_SECONDS,
    quiet: Quiet = False,
) -> None:
    """Render stacks into one YAML file per object plus a kustomization.yaml per stack (or, with
    --layout kustomize, into a kustomize base and one overlay per stack).

    Output is byte-identical on every run. Writing is atomic per stack directory. Nothing is
    written if any requested stack is invalid, or if its rendered objects fail the policy gate
    (findings at or above high under the stack's policy_profile, e.g. from patches): exit 2.
    Two runs on one --out do not interleave: the second waits for the first (--wait).
    """
    from vllm_infra.outputs.tree import TreeBusy, exclusive

    if layout == Layout.KUSTOMIZE and stacks:
        fail("the kustomize layout is one tree for every stack (its base is shared): run it without stack names")
    try:
        with nullcontext() if check else exclusive(out, wait, lambda: say(f"waiting for another run writing {out}",
                                                                           stderr)):
            _synth(stacks, stacks_dir, out, check, show_diff, layout, quiet)
    except TreeBusy as error:
        fail(f"{error}; nothing was written")


def _synth(stacks: list[str] | None, stacks_dir: Path, out: Path, check: bool, show_diff: bool, layout: Layout,
           quiet: bool) -> None:
    from vllm_infra.checker.reports import finding_line
    from vllm_infra.checker.runner import check_objects
    from vllm_infra.operations.simulate import cluster_of
    from vllm_infra.outputs.drift import find_drift
    from vllm_infra.outputs.stack_config import StackConfigError
    from vllm_infra.outputs.synth import synthesize
    from vllm_infra.outputs.tree import write_stack_dir

    with progress(quiet) as bar:
        try:
            results = synthesize(stacks_dir, stacks or [], progress=bar)
        except StackConfigError as exc:
            count = len(exc.problems)
            fail(f"{count} problem{'s' if count != 1 else ''} in stack configuration; nothing was written",
                 [str(problem) for problem in exc.problems])
        refused = [finding_line(finding) for result in results
                   for finding in check_objects([*result.objects, *result.delivery],
                                                f"{result.rendered.source} (rendered)",
                                                profile=result.policy_profile, progress=bar,
                                                cluster=cluster_of(result.cluster) if result.cluster else None,
                                                kubernetes_version=result.kubernetes_version).gating()]
        if refused:
            fail("the rendered objects fail the policy gate; nothing was written", refused)
        drifted = 0
        for target in _targets(results, layout):
            directory = out / target.name
            advance = bar.phase(f"{'comparing' if check else 'writing'} {target.name}", target.file_count)
            if check:
                drift = find_drift(directory, target.parts, advance)
                drifted += len(drift)
                for item in drift:
                    say(f"{item.path}: {item.status}")
                if show_diff and drift and target.objects is not None:
                    for line in _committed_diff(directory, target.name, target.objects).splitlines():
                        say(line)
                continue
            try:
                state = "written" if write_stack_dir(directory, target.parts, advance) else "unchanged"
            except OSError as error:  # disk full, read-only tree, --out a file or a dangling link
                fail(f"cannot write {error.filename or directory}: {error.strerror or error}; {directory} was left "
                     "as it was")
            say(f"{target.name}: {target.summary} -> {directory} ({state})")
    if check:
        if drifted:
            again = "vllm-infra synth" + (" --layout kustomize" if layout == Layout.KUSTOMIZE else "")
            fail(f"{drifted} file{'s' if drifted != 1 else ''} differ from the stacks; run `{again}` and commit the "
                 "result", code=ExitCode.FINDINGS)
        say(f"{out}: up to date ({len(results)} stack{'s' if len(results) != 1 else ''})")


def _committed_diff(directory: Path, stack: str, objects: Sequence[Mapping[str, Any]]) -> str:
    """How the objects committed in ``directory`` differ from what the stack renders."""
    from vllm_infra.checker.loading import read_inputs
    from vllm_infra.operations.diff import StackDiff, object_changes
    from vllm_infra.operations.diff_report import render_text

    committed = [o.manifest for o in read_inputs([str(directory)]).objects] if directory.is_dir() else []
    return render_text([StackDiff(stack, object_changes(committed, objects))])


@dataclass(frozen=True)
class _Target:
    """One directory synth writes or compares."""

    name: str
    parts: list[StackPart]
    file_count: int
    summary: str
    objects: Sequence[Mapping[str, Any]] | None
    """The objects behind the files (for --diff), delivery objects included, when they are one stack's."""


def _targets(results: list[SynthesizedStack], layout: Layout) -> list[_Target]:
    if layout == Layout.KUSTOMIZE:
        from vllm_infra.outputs.writers import stack_parts
        from vllm_infra.outputs.writers.kustomize import KustomizeWriter

        writer = KustomizeWriter([result.rendered for result in results])
        tree = writer.tree()
        return [_Target(tree.name, stack_parts(writer, tree), len(writer.paths(tree)),
                        f"base of {len(writer.base)} objects and {len(results)} overlays", None)]
    return [_Target(r.name, r.parts(), r.file_count, f"{len(r.objects)} objects", [*r.objects, *r.delivery])
            for r in results]
