"""``vllm-infra diff``: what a change to the stacks does to the rendered objects and what that
means, between two git revisions or directories of stack files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from vllm_infra.cli.output import fail, stdout
from vllm_infra.cli.progress import Quiet, progress
from vllm_infra.cli.synth import STACKS_DIR
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.reporting import DiffFormat


def diff(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to compare (default: every stack on either "
                                                           "side).", show_default=False)] = None,
    base: Annotated[str, typer.Option(help="Git revision or directory of stack files to compare from (default: the "
                                           "merge base of HEAD with the default branch).", show_default=False)] = "",
    head: Annotated[str, typer.Option(help="Git revision or directory to compare to (default: --stacks-dir as it "
                                           "is on disk).", show_default=False)] = "",
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    output: Annotated[DiffFormat, typer.Option("--output", "-o", help="text, markdown (a PR comment or "
                                                                      "$GITHUB_STEP_SUMMARY) or json.")]
    = DiffFormat.TEXT,
    fail_on_replace: Annotated[bool, typer.Option(help="Exit 1 when a change replaces an object (an immutable "
                                                       "field such as a Deployment selector changes).")] = False,
    quiet: Quiet = False,
) -> None:
    """Per stack: objects added, removed and changed (field by field; a change to an immutable field
    is a replacement), GPUs per type at minimum and maximum scale, memory fit and KV-cache tokens per
    service, cost per month, policy findings added and resolved, and scheduling verdicts where a
    cluster inventory exists. Needs no cluster and no secrets. Exit 0 (1 with --fail-on-replace and
    a replacement), 2 when a side cannot be read or the head's stacks are invalid."""
    from vllm_infra.operations.diff import diff_sides
    from vllm_infra.operations.diff_report import as_json, render_markdown, render_text
    from vllm_infra.operations.sources import SourceError, default_base, load_side, materialize
    from vllm_infra.outputs.stack_config import StackConfigError

    with tempfile.TemporaryDirectory(prefix="vllm-infra-diff-") as scratch, progress(quiet) as bar:
        try:
            sides = []
            for label, source in (("base", base or default_base(stacks_dir)), ("head", head)):
                advance = bar.phase(f"rendering {label}", 1)
                directory = stacks_dir if not source else Path(source) if Path(source).is_dir() else \
                    materialize(source, stacks_dir, Path(scratch) / label)
                sides.append(load_side(directory))
                advance(1)
        except SourceError as error:
            fail(str(error))
        except StackConfigError as error:
            fail(f"{len(error.problems)} problem(s) in stack configuration", [str(p) for p in error.problems])
        before, after = sides
        if stacks:
            unknown = sorted(set(stacks) - before.keys() - after.keys())
            if unknown:
                fail(f"stack(s) not found on either side: {', '.join(unknown)}")
            before = {name: side for name, side in before.items() if name in stacks}
            after = {name: side for name, side in after.items() if name in stacks}
        advance = bar.phase("comparing", 1)
        diffs = diff_sides(before, after)
        advance(1)
    if output == DiffFormat.JSON:
        stdout.out(json.dumps(as_json(diffs), indent=2, default=str), highlight=False)
    else:
        stdout.out(render_markdown(diffs) if output == DiffFormat.MARKDOWN else render_text(diffs), end="",
                   highlight=False)
    if any(d.problem for d in diffs):
        raise typer.Exit(int(ExitCode.BAD_INPUT))
    if fail_on_replace and any(d.replacements for d in diffs):
        raise typer.Exit(int(ExitCode.FINDINGS))
