"""Fleet-scale benchmark of synth -> validate -> check, with peers and the performance targets.

For each fleet size, in fresh child processes: the library stages (spec validation, rendering,
YAML writing, schema validation, the rule catalog) and the peers on the same objects (PyYAML's C
emitter, the floor for writing YAML from Python; kubernetes-validate, the Python reference
validator for the same schemas); the real commands `vllm-infra synth` and `vllm-infra check` (with
and without the parse cache) with their peak RSS; the Pulumi stack program under the SDK's mocks.
Prints tables, judges the targets, writes JSON; exits 1 if a target is missed.

Run from a checkout with the test extra installed:  .venv/bin/python -m benchmarks.run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.fleet import fleet
from vllm_infra.serialization.emitter import dump
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "vllm-infra"
DEFAULT_SIZES = (10, 100, 150, 1000, 1500)
MIB = 1024 * 1024
LARGE = 10_000
"""Objects from which the targets apply."""

console = Console(stderr=True)


@dataclass(frozen=True)
class Stage:
    """One timed step over ``objects`` objects."""

    seconds: float
    objects: int

    @property
    def per_second(self) -> float:
        """Objects per second."""
        return self.objects / self.seconds if self.seconds else float("inf")


@dataclass(frozen=True)
class Command:
    """One run of a child process."""

    seconds: float
    peak_rss_mib: float


def run_command(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[Command, str]:
    """Run a child process; its own peak RSS comes from wait4 (not the children's running maximum)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(args), stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {process.returncode}:\n{err.read().decode()}")
        return Command(seconds, usage.ru_maxrss * 1024 / MIB), out.read().decode()


def library(services: int, collector: str, reference_sample: int, repeats: int, scratch: Path) -> dict[str, Any]:
    """benchmarks.stages in ``repeats`` fresh processes; each stage and peer keeps its fastest run
    (the usual way to take scheduler and disk noise out of short timings). Files are left in
    ``scratch`` until the end: deleting many files slows the next writes on some file systems."""
    runs = []
    for attempt in range(repeats):
        _, text = run_command([sys.executable, "-m", "benchmarks.stages", str(services), "--collector", collector,
                               "--reference-sample", str(reference_sample),
                               "--scratch", str(scratch / f"files-{collector}-{attempt}")])
        runs.append(json.loads(text))
    return {"objects": runs[0]["objects"],
            **{group: {name: Stage(min(run[group][name][0] for run in runs), pair[1])
                       for name, pair in runs[0][group].items()} for group in ("stages", "peers")}}


def fastest(runs: list[Command]) -> Command:
    """The fastest time and the highest peak RSS of repeated runs."""
    return Command(min(run.seconds for run in runs), max(run.peak_rss_mib for run in runs))


def commands(services: int, workspace: Path, pulumi: bool, repeats: int) -> dict[str, Any]:
    """synth into a fresh tree, then check it (parse cache warm, as right after synth), fastest of
    ``repeats`` (the disk adds noise); check without the cache once; the Pulumi program under mocks."""
    stacks = workspace / "stacks"
    stacks.mkdir(parents=True)
    (stacks / "Pulumi.bench.yaml").write_text(dump({"config": {"vllm-infra:fleet": fleet(services)}}))
    env = {**os.environ, "VLLM_INFRA_CACHE_DIR": str(workspace / "cache")}
    synths, checks = [], []
    for attempt in range(repeats):
        out = workspace / f"manifests-{attempt}"
        synths.append(run_command([str(CLI), "synth", "--stacks-dir", str(stacks), "--out", str(out), "bench"],
                                  env)[0])
        checks.append(run_command([str(CLI), "check", str(out / "bench")], env)[0])
    cold, _ = run_command([str(CLI), "check", str(workspace / "manifests-0" / "bench")],
                          {**env, "VLLM_INFRA_NO_CACHE": "1"})
    result: dict[str, Any] = {"synth": fastest(synths), "check": fastest(checks), "check_without_cache": cold}
    if pulumi:
        command, text = run_command([sys.executable, "-m", "benchmarks.pulumi_mocks", str(services)])
        result["pulumi_mocks"] = {**json.loads(text), "peak_rss_mib": command.peak_rss_mib}
    return result


def startup(workspace: Path, repeats: int) -> dict[str, Any]:
    """Median wall time of `vllm-infra --help` and of synthesizing the dev stack; whether the CLI
    path imports Pulumi."""
    env = {**os.environ, "VLLM_INFRA_CACHE_DIR": str(workspace / "cache")}
    help_runs = [run_command([str(CLI), "--help"], env)[0].seconds for _ in range(repeats)]
    dev_runs = [run_command([str(CLI), "synth", "dev", "--out", str(workspace / f"dev-{index}")], env)[0].seconds
                for index in range(repeats)]
    probe = ("import json, sys; from vllm_infra.cli import app; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'pulumi', 'pulumi_kubernetes'})))")
    _, imported = run_command([sys.executable, "-c", probe], env)
    return {"help_seconds": statistics.median(help_runs), "dev_synth_seconds": statistics.median(dev_runs),
            "pulumi_modules_on_cli_path": json.loads(imported)}


def pipeline_seconds(size: dict[str, Any]) -> float:
    """Library stages end to end (the `vllm-infra` collector settings)."""
    return sum(stage.seconds for stage in size["stages"].values())


def end_to_end_seconds(size: dict[str, Any]) -> float:
    """`vllm-infra synth` then `vllm-infra check`, as whole commands."""
    return float(size["commands"]["synth"].seconds + size["commands"]["check"].seconds)


def validation_ratio(size: dict[str, Any]) -> float:
    """Our schema throughput on every core-kind object over kubernetes-validate's on a sample of them."""
    return float(size["peers"]["ours_on_core_kinds"].per_second / size["peers"]["kubernetes_validate"].per_second)


def tenfold_pairs(sizes: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(small, large) size pairs with ten times the services."""
    return [(small, large) for small in sizes for large in sizes if large["services"] == 10 * small["services"]]


def growth(small: dict[str, Any], large: dict[str, Any], seconds: Callable[[dict[str, Any]], float]) -> float:
    """How many times longer the larger size took."""
    return seconds(large) / seconds(small)


def targets(sizes: list[dict[str, Any]], start: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets. Scale targets are judged at the largest fleet, and only when it has at
    least LARGE objects (``met`` is None otherwise); linearity on the ten-fold pair ending there."""
    largest = sizes[-1]
    judged = largest["objects"] >= LARGE
    dump_seconds = largest["peers"]["pyyaml_dump"].seconds
    e2e = end_to_end_seconds(largest)
    rss = max(command.peak_rss_mib for name, command in largest["commands"].items() if name != "pulumi_mocks")
    scale = [
        {"target": "synth + check <= 2x PyYAML C dump", "value": f"{e2e:.2f} s = {e2e / dump_seconds:.2f}x "
         f"({dump_seconds:.2f} s)", "met": e2e <= 2 * dump_seconds},
        {"target": "validation >= 50x kubernetes-validate", "value": f"{validation_ratio(largest):,.0f}x",
         "met": validation_ratio(largest) >= 50},
        {"target": "peak RSS <= 400 MB", "value": f"{rss:.0f} MiB", "met": rss * MIB <= 400e6},
    ]
    for small, large in tenfold_pairs(sizes):
        if large is not largest:
            continue
        for label, seconds in (("library stages", pipeline_seconds), ("synth + check", end_to_end_seconds)):
            factor = growth(small, large, seconds)
            ratio = large["objects"] / small["objects"]
            scale.append({"target": f"linear: {ratio:.0f}x objects <= 11x time ({label}, {small['objects']:,} -> "
                          f"{large['objects']:,})", "value": f"{factor:.1f}x time", "met": factor <= 1.1 * ratio})
    if not judged:
        scale = [{**item, "met": None} for item in scale]
    return [*scale,
            {"target": "`vllm-infra --help` well under 1 s (< 0.5 s)", "value": f"{start['help_seconds']:.2f} s",
             "met": start["help_seconds"] < 0.5},
            {"target": "dev-stack synth well under 1 s (< 0.5 s)", "value": f"{start['dev_synth_seconds']:.2f} s",
             "met": start["dev_synth_seconds"] < 0.5},
            {"target": "Pulumi not imported on the CLI path",
             "value": ", ".join(start["pulumi_modules_on_cli_path"]) or "none imported",
             "met": not start["pulumi_modules_on_cli_path"]}]


def _rate(stage: Stage) -> str:
    rate = stage.per_second
    return f"{stage.seconds:.3f} s {rate / 1000:,.0f}k/s" if rate >= 10_000 else f"{stage.seconds:.3f} s {rate:,.0f}/s"


def print_report(sizes: list[dict[str, Any]], start: dict[str, Any], verdicts: list[dict[str, Any]]) -> None:
    out = Console()
    header = [f"{size['services']:,} svc {size['objects']:,} obj" for size in sizes]
    stages = Table(title="Library stages, one pass in a fresh process (fastest of --repeats): seconds, objects/s")
    for column in ("stage", *header):
        stages.add_column(column, justify="right")
    for name, label in (("spec", "spec validation (services)"), ("render", "render"), ("yaml", "YAML writing"),
                        ("schema", "schema validation"), ("rules", "55 rules")):
        stages.add_row(label, *(_rate(size["stages"][name]) for size in sizes))
    stages.add_row("all stages", *(f"{pipeline_seconds(size):.3f} s" for size in sizes))
    stages.add_row("  with CPython's default GC (1 run)", *(f"{pipeline_seconds(size['default_collector']):.3f} s"
                                                      for size in sizes))
    stages.add_row("peer: PyYAML C dump", *(_rate(size["peers"]["pyyaml_dump"]) for size in sizes))
    stages.add_row("floor: write one file per object", *(_rate(size["peers"]["file_writes"]) for size in sizes))
    stages.add_row("peer: kubernetes-validate", *(_rate(size["peers"]["kubernetes_validate"]) for size in sizes))
    stages.add_row("schema vs kubernetes-validate", *(f"{validation_ratio(size):,.0f}x" for size in sizes))
    out.print(stages)
    whole = Table(title="Whole commands: seconds, peak RSS")
    for column in ("command", *header):
        whole.add_column(column, justify="right")
    for name, label in (("synth", "vllm-infra synth"), ("check", "vllm-infra check"),
                        ("check_without_cache", "check, no parse cache")):
        whole.add_row(label, *(f"{size['commands'][name].seconds:.2f} s {size['commands'][name].peak_rss_mib:.0f} MiB"
                               for size in sizes))
    whole.add_row("synth + check", *(f"{end_to_end_seconds(size):.2f} s" for size in sizes))
    whole.add_row("  / PyYAML C dump", *(f"{end_to_end_seconds(size) / size['peers']['pyyaml_dump'].seconds:.2f}x"
                                         for size in sizes))
    if all("pulumi_mocks" in size["commands"] for size in sizes):
        whole.add_row("Pulumi mocks, per service", *(
            f"{size['commands']['pulumi_mocks']['seconds'] / size['services'] * 1000:.1f} ms" for size in sizes))
    out.print(whole)
    out.print(f"startup (median): `vllm-infra --help` {start['help_seconds']:.2f} s, "
              f"dev-stack synth {start['dev_synth_seconds']:.2f} s")
    largest = sizes[-1]["objects"]
    note = "" if largest >= LARGE else f"; the targets are set for >= {LARGE:,} objects"
    verdict = Table(title=f"Targets (at {largest:,} objects{note})")
    for column in ("target", "measured", "met"):
        verdict.add_column(column)
    for item in verdicts:
        verdict.add_row(item["target"], item["value"], {True: "yes", False: "NO", None: "not judged"}[item["met"]])
    out.print(verdict)


def to_json(value: Any) -> Any:
    """Stages and commands as plain data (with objects/s)."""
    if isinstance(value, Stage):
        return {**asdict(value), "objects_per_second": value.per_second}
    if isinstance(value, Command):
        return asdict(value)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated fleet sizes, in services (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json",
                        help="where to write the results (default: benchmarks/results.json)")
    parser.add_argument("--reference-sample", type=int, default=300,
                        help="objects validated by kubernetes-validate per size (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per size of the library stages, synth and check; the fastest counts "
                             "(default: %(default)s)")
    parser.add_argument("--no-pulumi", action="store_true", help="skip the Pulumi program under mocks")
    args = parser.parse_args(argv)
    services = sorted({int(text) for text in args.sizes.split(",")})
    sizes: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vllm-infra-bench-") as scratch:
        for count in services:
            with console.status(f"{count:,} services: library stages and peers"):
                workspace = Path(scratch) / f"n{count}"
                measured = library(count, "cli", args.reference_sample, args.repeats, workspace)
                default = library(count, "default", args.reference_sample, 1, workspace)
            with console.status(f"{count:,} services: synth and check"
                                + ("" if args.no_pulumi else ", Pulumi program under mocks")):
                runs = commands(count, workspace, not args.no_pulumi, args.repeats)
            sizes.append({"services": count, **measured, "default_collector": {"stages": default["stages"]},
                          "commands": runs})
            console.print(f"{count:,} services ({measured['objects']:,} objects) measured")
        with console.status("startup"):
            start = startup(Path(scratch), max(args.repeats, 3))
    verdicts = targets(sizes, start)
    print_report(sizes, start, verdicts)
    document = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count()},
                "kubernetes_version": KUBERNETES_VERSION, "benchmark_seconds": time.perf_counter() - started,
                "sizes": sizes, "startup": start, "targets": verdicts}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(document), indent=2) + "\n")
    console.print(f"wrote {args.json} in {document['benchmark_seconds']:.0f} s")
    return 1 if any(item["met"] is False for item in verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
