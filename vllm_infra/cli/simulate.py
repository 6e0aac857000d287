"""``vllm-infra simulate``: will each stack's fleet schedule, roll, drain, lose a zone and scale
out on its declared cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from vllm_infra.cli.output import fail, say, stdout
from vllm_infra.cli.progress import Quiet, progress
from vllm_infra.cli.synth import STACKS_DIR
from vllm_infra.vocabulary.exits import ExitCode
from vllm_infra.vocabulary.progress import Advance
from vllm_infra.vocabulary.reporting import DataFormat

PICTURES_DIR = Path("simulation")


def simulate(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to simulate (default: every stack).",
                                                       show_default=False)] = None,
    stacks_dir: Annotated[Path, typer.Option("--stacks-dir", help="Directory with Pulumi.<stack>.yaml files.")]
    = STACKS_DIR,
    pictures: Annotated[Path, typer.Option("--pictures", help="Directory for one SVG per stack (node pools x "
                                                              "GPUs at minimum, maximum and mid-rollout).")]
    = PICTURES_DIR,
    output: Annotated[DataFormat, typer.Option("--output", "-o", help="Text or JSON.")] = DataFormat.TEXT,
    quiet: Quiet = False,
) -> None:
    """Play kube-scheduler's placement on each stack's cluster inventory: the fleet at minimum and
    maximum scale, a rolling update of every workload, a drain of every node (honouring PDBs), the
    loss of each zone, and the nodes each pool must add. A verdict per scenario and workload
    (ok / degraded / blocked) with the scheduler's reasons; exit 1 when any scenario is blocked,
    2 on bad input. Stacks without a `cluster` are listed and skipped."""
    from vllm_infra.checker.simulation.scenarios import simulate_manifests
    from vllm_infra.cli.fleets import load_fleets
    from vllm_infra.operations.cluster_picture import picture
    from vllm_infra.operations.simulate import StackSimulation, as_json, cluster_of, explanation_lines, verdict_table
    from vllm_infra.outputs.tree import write_file
    from vllm_infra.render import render_fleet

    fleets = load_fleets(stacks_dir, stacks)
    results: list[StackSimulation] = []
    skipped = [name for name, fleet in fleets.items() if fleet.cluster is None]
    with progress(quiet) as bar:
        for name, fleet in fleets.items():
            if fleet.cluster is None:
                continue
            objects = render_fleet(fleet)
            cluster = cluster_of(fleet.cluster)
            steps = len(fleet.services) + sum(pool.max_nodes for pool in cluster.pools)
            simulation = simulate_manifests(cluster, objects, _stepper(bar.phase(f"simulating {name}", steps)))
            results.append(StackSimulation(name, simulation))
    written: dict[str, Path] = {}
    for result in results:
        target = pictures / f"{result.stack}.svg"
        try:
            write_file(target, picture(f"{result.stack}: where pods sit", result.simulation.snapshots))
        except OSError as error:
            fail(f"cannot write {error.filename or target}: {error.strerror or error}")
        written[result.stack] = target
    if output == DataFormat.JSON:
        document = as_json(results)
        document["skipped"] = skipped
        for stack in document["stacks"]:
            stack["picture"] = str(written[stack["stack"]])
        stdout.out(json.dumps(document, indent=2), highlight=False)
    else:
        for name in skipped:
            say(f"{name}: no cluster inventory (add `cluster:` to its stack file); not simulated")
        for result in results:
            say(f"{result.stack}: {result.simulation.worst().value} (picture: {written[result.stack]})")
            for line in [*verdict_table(result), *explanation_lines(result)]:
                say(f"  {line}")
    if any(result.blocked for result in results):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _stepper(advance: Advance) -> Callable[[str], None]:
    """A simulation progress callback that advances one unit per scenario step."""
    def step(_label: str) -> None:
        advance(1)
    return step
