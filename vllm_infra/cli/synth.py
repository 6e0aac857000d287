"""``vllm-infra synth``: stacks -> GitOps tree, or a drift check against the committed tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vllm_infra.cli.output import EXIT_FINDINGS, fail, stdout

STACKS_DIR = Path("stacks")
OUT_DIR = Path("manifests")


def synth(
    stacks: Annotated[list[str] | None, typer.Argument(
        help="Stacks to render (default: every stacks/Pulumi.<stack>.yaml).", show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    out: Annotated[Path, typer.Option("--out", "-o", help="GitOps output root; each stack gets a subdirectory.")]
    = OUT_DIR,
    check: Annotated[bool, typer.Option("--check", help="Write nothing to the tree; exit 1 and list files "
                                        "that differ from it (CI drift gate).")] = False,
) -> None:
    """Render stacks into one YAML file per object plus a kustomization.yaml per stack.

    Output is byte-identical on every run. Writing is atomic per stack directory, and nothing is
    written if any requested stack is invalid (exit 2). The objects behind the files are also
    recorded in the parse cache, so a following `vllm-infra check` skips re-parsing them.
    """
    from vllm_infra.gitops import find_drift, parsed_documents, write_stack_dir
    from vllm_infra.parsecache import record
    from vllm_infra.stacks import StackConfigError
    from vllm_infra.synth import synthesize

    try:
        results = synthesize(stacks_dir, stacks or [])
    except StackConfigError as exc:
        count = len(exc.problems)
        fail(f"{count} problem{'s' if count != 1 else ''} in stack configuration; nothing was written",
             [str(problem) for problem in exc.problems])
    drifted = 0
    for result in results:
        directory = out / result.name
        drift = find_drift(directory, result.files)
        record(directory, result.files, parsed_documents(result.objects))
        if check:
            drifted += len(drift)
            for item in drift:
                stdout.print(f"{item.path}: {item.status}", markup=False)
            continue
        if drift:
            write_stack_dir(directory, result.files)
        state = "written" if drift else "unchanged"
        stdout.print(f"{result.name}: {len(result.objects)} objects -> {directory} ({state})", markup=False)
    if check:
        if drifted:
            fail(f"{drifted} file{'s' if drifted != 1 else ''} differ from the stacks; run `vllm-infra synth` "
                 "and commit the result", code=EXIT_FINDINGS)
        stdout.print(f"{out}: up to date ({len(results)} stack{'s' if len(results) != 1 else ''})", markup=False)
