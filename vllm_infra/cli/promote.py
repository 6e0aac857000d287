"""``vllm-infra promote``: move the image and model pins one stack runs into another stack file."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from vllm_infra.cli.output import fail, say, stderr, stdout
from vllm_infra.cli.synth import LOCK_WAIT_SECONDS, STACKS_DIR


def promote(
    source: Annotated[str, typer.Option("--from", help="Stack whose pins are promoted, e.g. staging.",
                                        show_default=False)],
    target: Annotated[str, typer.Option("--to", help="Stack file to update, e.g. prod.", show_default=False)],
    services: Annotated[list[str] | None, typer.Argument(help="Services to promote (default: every service both "
                                                              "stacks run).", show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    dry_run: Annotated[bool, typer.Option(help="Show what would change; write nothing.")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait while another run writes the same stacks (then "
                                             "exit 2).", min=0)] = LOCK_WAIT_SECONDS,
) -> None:
    """Copy image tag, digest (or unpinned_reason) and model revision of each service from one
    stack to another, keeping the target file's comments and layout, then show the diff of the
    rendered objects. Nothing is written when the result would not validate (exit 2). Two runs on
    one stacks directory do not interleave: the second waits for the first (--wait)."""
    from vllm_infra.outputs.tree import TreeBusy, exclusive

    try:
        with nullcontext() if dry_run else exclusive(stacks_dir, wait, lambda: say(
                f"waiting for another run writing {stacks_dir}", stderr)):
            _promote(source, target, services, stacks_dir, dry_run)
    except TreeBusy as error:
        fail(f"{error}; nothing was written")


def _promote(source: str, target: str, services: list[str] | None, stacks_dir: Path, dry_run: bool) -> None:
    from vllm_infra.operations.diff import StackSide, diff_stack
    from vllm_infra.operations.diff_report import render_text
    from vllm_infra.operations.promote import PromotionError
    from vllm_infra.operations.promote import promote as promote_pins
    from vllm_infra.outputs.stack_config import StackConfigError, load_stack
    from vllm_infra.outputs.synth import select_stacks
    from vllm_infra.outputs.tree import write_file
    from vllm_infra.render import render_fleet
    from vllm_infra.serialization.files import read_limited

    try:
        paths = select_stacks(stacks_dir, [source, target])
        origin, before = load_stack(paths[source]), load_stack(paths[target])
        result = promote_pins(origin, read_limited(paths[target]).decode(), str(paths[target]), services or [])
    except StackConfigError as error:
        fail(f"{len(error.problems)} problem(s) in stack configuration", [str(p) for p in error.problems])
    except PromotionError as error:
        fail(f"cannot promote {source} to {target}: {error}")
    for sentence in result.left_out:
        say(f"{target}: {sentence}")
    if not result.changes:
        say(f"{target}: already runs what {source} runs; nothing to do")
        return
    for change in result.changes:
        say(f"{target}: {change}")
    stdout.out(render_text([diff_stack(target, StackSide(before, render_fleet(before)),
                                       StackSide(result.fleet, render_fleet(result.fleet)))]), end="",
               highlight=False)
    if dry_run:
        say(f"{paths[target]}: not written (--dry-run)")
        return
    try:
        write_file(paths[target], result.text)
    except OSError as error:
        fail(f"cannot write {paths[target]}: {error.strerror or error}")
    say(f"{paths[target]}: written; run `vllm-infra synth` and commit both")

