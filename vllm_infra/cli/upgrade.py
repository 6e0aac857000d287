"""``vllm-infra upgrade-check``: what moving each stack to another vLLM release would change."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vllm_infra.cli.fleets import load_fleets
from vllm_infra.cli.output import fail, say, stdout
from vllm_infra.cli.synth import STACKS_DIR
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.reporting import DataFormat

if TYPE_CHECKING:
    from vllm_infra.operations.upgrade import ServiceUpgrade


def upgrade_check(
    to: Annotated[str, typer.Option("--to", help="Target vLLM release, e.g. 0.33.0 (default: the newest "
                                                 "catalogued release).", show_default=False)] = "",
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to check (default: every stack).",
                                                       show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    output: Annotated[DataFormat, typer.Option("--output", "-o", help="Text or JSON.")] = DataFormat.TEXT,
) -> None:
    """Per service, what moving to another vLLM release changes: what would break (exit 1), flags
    rendered or dropped, autoscaler metric renames, engine defaults that change, and the KV-cache
    estimate before and after. Nothing is written."""
    from vllm_infra.catalog.vllm import VllmVersion
    from vllm_infra.catalog.vllm_releases import release_catalog, unknown_release
    from vllm_infra.operations.upgrade import upgrade_fleet

    target = VllmVersion.parse(to) if to else release_catalog().newest.version
    if target is None:
        fail(f"--to {to!r} does not name a vLLM release (e.g. 0.33.0)")
    problem = unknown_release(target)
    if problem:
        fail(problem)
    results = {name: upgrade_fleet(fleet, target) for name, fleet in load_fleets(stacks_dir, stacks).items()}
    if output == DataFormat.JSON:
        stdout.out(json.dumps({name: [{**asdict(r), "breaking": r.breaking} for r in rows]
                               for name, rows in results.items()}, indent=2), highlight=False)
    else:
        for name, rows in results.items():
            say(f"{name}:")
            for row in rows:
                say(f"  {row.service}: {_verdict(row)}")
                for line in [*(f"BREAKS {b}" for b in row.breaks), *row.changes, *_capacity_line(row)]:
                    say(f"    - {line}")
    if any(row.breaking for rows in results.values() for row in rows):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _verdict(row: ServiceUpgrade) -> str:
    if row.pinned == row.target:
        return f"already on {row.target}"
    return f"{row.pinned} -> {row.target}: " + ("breaks" if row.breaking else "ok")


def _capacity_line(row: ServiceUpgrade) -> list[str]:
    before, after = row.kv_tokens
    if before is None or after is None or row.breaking:
        return []
    return [f"KV cache: {before:,} tokens, unchanged" if before == after else
            f"KV cache: {before:,} -> {after:,} tokens"]
