"""Fleet-scale benchmark: `vllm-infra synth`, `validate` and `check` next to kubeconform on the
same files, and the performance targets.

For each fleet size (in objects) it writes a stack, times `vllm-infra synth` into a fresh tree, then
runs kubeconform (when ``../shared/bin`` has it), `vllm-infra validate` and a cold `vllm-infra
check` on that tree, interleaved and in a rotating order, ``--repeats`` times. Each run is one child
process: wall time, CPU time (user + system, children included, from wait4), the peak RSS of its
largest process (wait4) and the peak PSS of its whole process tree (sampled every 20 ms; PSS counts
pages that forked children share once). Times keep the fastest run, memory the largest. Then: the
start-up of `vllm-infra --help` against `import typer`, the library stages at 10,000 objects in a
fresh process (with the CLI's collector settings and with CPython's), the Pulumi program under
the SDK's mocks, and the scheduling simulation of 1,000 services on 500 nodes. It prints tables,
judges the targets, writes JSON and exits 1 if a target is missed.

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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import peer
from benchmarks.fleet import fleet
from vllm_infra.serialization.emitter import dump
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.workers import WORKERS_ENV

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "vllm-infra"
DEFAULT_SIZES = (1_000, 10_000, 50_000, 100_000)
LARGE = 10_000
"""Objects from which the targets apply."""
MIB = 1024 * 1024
OBJECTS_PER_FOUR_SERVICES = 27
"""The fleet's four shapes render 27 objects together (plus one Namespace per fleet)."""
COMMANDS = ("kubeconform", "validate", "check")
LEAN_FROM = 50_000
"""From this many objects, check and synth also run with one process (VLLM_INFRA_WORKERS=1)."""

console = Console(stderr=True)


@dataclass(frozen=True)
class Run:
    """One child process."""

    wall: float
    cpu: float
    """User + system seconds of the process and the children it waited for."""
    peak_rss_mib: float
    """Peak RSS of its largest process."""
    peak_pss_mib: float
    """Peak PSS of its process tree, sampled."""


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def _pss_kib(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def measure(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run a child process to completion; it must succeed (the synthetic fleet passes every check)."""
    peak = [0]
    done = threading.Event()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env={**os.environ, **(env or {})})

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], sum(_pss_kib(pid) for pid in _tree(process.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}:\n{text}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak[0] / 1024), text


def best(runs: list[Run]) -> Run:
    """The fastest times and the largest memory of repeated runs."""
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.peak_rss_mib for r in runs),
               max(r.peak_pss_mib for r in runs))


def services_for(objects: int) -> int:
    """Services whose fleet renders at least ``objects`` objects (a few more at most)."""
    return max(1, -(-(objects - 1) * 4 // OBJECTS_PER_FOUR_SERVICES))


def size(objects: int, repeats: int, schemas: Path | None, workspace: Path) -> dict[str, Any]:
    """synth into fresh trees, then the validators on the first tree, interleaved."""
    services = services_for(objects)
    stacks = workspace / "stacks"
    stacks.mkdir(parents=True)
    (stacks / "Pulumi.bench.yaml").write_text(dump({"config": {"vllm-infra:fleet": fleet(services)}}))
    synths = []
    for attempt in range(repeats):
        run, text = measure([str(CLI), "synth", "--stacks-dir", str(stacks), "--out",
                             str(workspace / f"out-{attempt}"), "bench"])
        synths.append(run)
    tree = workspace / "out-0" / "bench"
    rendered = int(text.split(": ", 1)[1].split(" ", 1)[0])
    commands: dict[str, list[str]] = {"validate": [str(CLI), "validate", str(tree)],
                                      "check": [str(CLI), "check", str(tree)]}
    if schemas is not None:
        commands["kubeconform"] = peer.command(schemas, KUBERNETES_VERSION, tree)
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    order = [name for name in COMMANDS if name in commands]
    for attempt in range(repeats):
        for name in order[attempt % len(order):] + order[:attempt % len(order)]:
            run, text = measure(commands[name])
            if name == "kubeconform":
                peer.check_summary(text, rendered)
            runs[name].append(run)
    lean: dict[str, Run] = {}
    if rendered >= LEAN_FROM:  # one process each: the least memory, at the cost of time
        lean["check"] = measure(commands["check"], {WORKERS_ENV: "1"})[0]
        lean["synth"] = measure([str(CLI), "synth", "--stacks-dir", str(stacks), "--out", str(workspace / "lean"),
                                 "bench"], {WORKERS_ENV: "1"})[0]
    return {"services": services, "objects": rendered, "synth": best(synths),
            **{name: best(found) for name, found in runs.items()}, "one_process": lean}


def startup(repeats: int) -> dict[str, Any]:
    """Median CPU seconds of `vllm-infra --help` and of `python -c "import typer"`, interleaved."""
    helps, typers = [], []
    for _ in range(repeats):
        helps.append(measure([str(CLI), "--help"])[0].cpu)
        typers.append(measure([sys.executable, "-c", "import typer"])[0].cpu)
    probe = ("import json, sys; from vllm_infra.cli import app; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'pulumi', 'pydantic'})))")
    imported = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                         check=True, cwd=ROOT).stdout)
    return {"help_cpu": statistics.median(helps), "import_typer_cpu": statistics.median(typers),
            "modules_on_cli_path": imported}


def stages(objects: int, scratch: Path) -> dict[str, Any]:
    """Library stages in fresh processes, with the CLI's collector settings and with CPython's."""
    found = {}
    for collector in ("cli", "default"):
        text = subprocess.run([sys.executable, "-m", "benchmarks.stages", str(services_for(objects)), "--collector",
                               collector, "--reference-sample", "300", "--scratch", str(scratch / collector)],
                              capture_output=True, text=True, check=True, cwd=ROOT).stdout
        found[collector] = json.loads(text)
    return found


def pulumi(services: int) -> dict[str, Any]:
    """The stack program under the Pulumi SDK's mocks."""
    run, text = measure([sys.executable, "-m", "benchmarks.pulumi_mocks", str(services)])
    return {**json.loads(text.strip().splitlines()[-1]), "peak_rss_mib": run.peak_rss_mib}


def simulation() -> dict[str, Any]:
    """The scheduling simulation of 1,000 services on 500 nodes (benchmarks.simulation)."""
    _run, text = measure([sys.executable, "-m", "benchmarks.simulation", "--json"])
    return dict(json.loads(text.strip().splitlines()[-1]))


def memory(run: Run) -> float:
    """What a run held at its peak: the larger of its largest process and its tree's PSS."""
    return max(run.peak_rss_mib, run.peak_pss_mib)


def _judge(target: str, value: str, met: bool | None) -> dict[str, Any]:
    return {"target": target, "value": value, "met": met}


def _ratio(sizes: list[dict[str, Any]], name: str, field: str, limit: float, label: str) -> list[dict[str, Any]]:
    return [_judge(f"{label} <= {limit}x kubeconform's ({s['objects']:,} objects)",
                   f"{getattr(s[name], field):.2f} s / {getattr(s['kubeconform'], field):.2f} s = "
                   f"{getattr(s[name], field) / getattr(s['kubeconform'], field):.2f}x",
                   getattr(s[name], field) <= limit * getattr(s["kubeconform"], field))
            for s in sizes if s["objects"] >= LARGE and "kubeconform" in s]


def _nearest(sizes: list[dict[str, Any]], objects: int) -> dict[str, Any] | None:
    candidates = [s for s in sizes if 0.9 * objects <= s["objects"] <= 1.1 * objects]
    return candidates[0] if candidates else None


def _memory_target(sizes: list[dict[str, Any]], names: Sequence[str], objects: int) -> list[dict[str, Any]]:
    at = _nearest(sizes, objects)
    if at is None:
        return [_judge(f"peak memory of {name} <= 400 MB at {objects:,} objects", "size not run", None)
                for name in names]
    verdicts = []
    for name in names:
        value = (f"{memory(at[name]):.0f} MiB (largest process {at[name].peak_rss_mib:.0f}, tree PSS "
                 f"{at[name].peak_pss_mib:.0f})")
        lean = at.get("one_process", {}).get(name)
        if lean is not None:
            value += f"; with {WORKERS_ENV}=1: {memory(lean):.0f} MiB in {lean.wall:.1f} s"
        verdicts.append(_judge(f"peak memory of {name} <= 400 MB at {objects:,} objects", value,
                               memory(at[name]) * MIB <= 400e6))
    return verdicts


def growth(small: dict[str, Any], large: dict[str, Any], name: str) -> float:
    """CPU time growth per ten times the objects, from ``small`` to ``large``."""
    return float(large[name].cpu / small[name].cpu * 10 / (large["objects"] / small["objects"]))


def targets(sizes: list[dict[str, Any]], start: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets (issues 16 and 24), each judged where the benchmark ran the sizes it needs."""
    verdicts = [*_ratio(sizes, "check", "cpu", 1.0, "cold check CPU"),
                *_ratio(sizes, "check", "wall", 1.0, "cold check wall"),
                *_ratio(sizes, "validate", "cpu", 0.5, "validate CPU")]
    ten = _nearest(sizes, LARGE)
    if ten is not None and "kubeconform" in ten:
        peer_wall = ten["kubeconform"].wall
        verdicts.append(_judge(f"synth with its in-memory check: <= 1.2x kubeconform's wall ({ten['objects']:,} "
                               "objects)", f"{ten['synth'].wall:.2f} s = {ten['synth'].wall / peer_wall:.2f}x",
                               ten["synth"].wall <= 1.2 * peer_wall))
    verdicts += _memory_target(sizes, ["validate", "check", "synth"], 100_000)
    hundred = _nearest(sizes, 100_000)
    if ten is not None and hundred is not None:
        names = ["synth", "validate", "check"]
        verdicts += [_judge(f"{name}: CPU time per 10x objects <= 10.5x ({ten['objects']:,} -> "
                            f"{hundred['objects']:,})", f"{growth(ten, hundred, name):.2f}x",
                            growth(ten, hundred, name) <= 10.5) for name in names]
    extra = start["help_cpu"] - start["import_typer_cpu"]
    verdicts.append(_judge("`vllm-infra --help` within 0.15 s CPU of `import typer`",
                           f"{start['help_cpu']:.2f} s vs {start['import_typer_cpu']:.2f} s (+{extra:.2f} s)",
                           extra <= 0.15))
    verdicts.append(_judge("neither pydantic nor Pulumi imported by the CLI entry point",
                           ", ".join(start["modules_on_cli_path"]) or "neither", not start["modules_on_cli_path"]))
    return verdicts


def _cell(run: Run) -> str:
    return f"{run.wall:.2f} s wall, {run.cpu:.2f} s CPU, {memory(run):.0f} MiB"


def print_report(sizes: list[dict[str, Any]], start: dict[str, Any], library: dict[str, Any] | None,
                 mocks: dict[str, Any] | None, verdicts: list[dict[str, Any]]) -> None:
    out = Console(width=200)
    table = Table(title="Same files, one child process per run (fastest of --repeats; memory: largest)")
    table.add_column("command")
    for s in sizes:
        table.add_column(f"{s['objects']:,} objects", justify="right")
    for name, label in (("kubeconform", "kubeconform -strict"), ("validate", "vllm-infra validate"),
                        ("check", "vllm-infra check (cold)"), ("synth", "vllm-infra synth (with its gate)")):
        table.add_row(label, *(_cell(s[name]) if name in s else "peer not available" for s in sizes))
    for name in ("check", "synth"):
        table.add_row(f"  {name}, {WORKERS_ENV}=1", *(_cell(s["one_process"][name]) if name in s["one_process"]
                                                        else "" for s in sizes))
    for name in ("validate", "check"):
        table.add_row(f"  {name} / kubeconform", *(
            f"{s[name].cpu / s['kubeconform'].cpu:.2f}x CPU, {s[name].wall / s['kubeconform'].wall:.2f}x wall"
            if "kubeconform" in s else "" for s in sizes))
    out.print(table)
    if library is not None:
        stage_table = Table(title="Library stages at 10,000 objects, one pass in a fresh process (seconds)")
        for column in ("stage", "CLI collector settings", "CPython's defaults"):
            stage_table.add_column(column, justify="right")
        for stage in library["cli"]["stages"]:
            stage_table.add_row(stage, *(f"{library[c]['stages'][stage][0]:.3f}" for c in ("cli", "default")))
        stage_table.add_row("all", *(f"{sum(v[0] for v in library[c]['stages'].values()):.3f}"
                                     for c in ("cli", "default")))
        peers = library["cli"]["peers"]
        stage_table.add_row("peer: PyYAML C dump", f"{peers['pyyaml_dump'][0]:.3f}", "")
        rate = peers["ours_on_core_kinds"][1] / peers["ours_on_core_kinds"][0]
        reference = peers["kubernetes_validate"][1] / peers["kubernetes_validate"][0]
        stage_table.add_row("schema validation vs kubernetes-validate", f"{rate / reference:,.0f}x", "")
        out.print(stage_table)
    if mocks is not None:
        out.print(f"Pulumi program under mocks: {mocks['services']} services, {mocks['objects']} objects, "
                  f"{mocks['seconds'] / mocks['services'] * 1000:.1f} ms per service")
    out.print(f"start-up (median CPU): `vllm-infra --help` {start['help_cpu']:.2f} s, `import typer` "
              f"{start['import_typer_cpu']:.2f} s")
    verdict = Table(title="Targets")
    for column in ("target", "measured", "met"):
        verdict.add_column(column)
    for item in verdicts:
        verdict.add_row(item["target"], item["value"], {True: "yes", False: "NO", None: "not judged"}[item["met"]])
    out.print(verdict)


def to_json(value: Any) -> Any:
    """Runs as plain data."""
    if isinstance(value, Run):
        return asdict(value)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


def _step(label: str, action: Callable[..., Any], *arguments: Any) -> Any:
    with console.status(label):
        started = time.perf_counter()
        result = action(*arguments)
    console.print(f"{label}: {time.perf_counter() - started:.0f} s")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated fleet sizes, in objects (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per command and size (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json",
                        help="where to write the results (default: benchmarks/results.json)")
    parser.add_argument("--no-peer", action="store_true", help="do not run kubeconform even when it is available")
    parser.add_argument("--no-library", action="store_true", help="skip the library stages and the Pulumi mocks")
    args = parser.parse_args(argv)
    wanted = sorted({int(text) for text in args.objects.split(",")})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vllm-infra-bench-") as scratch:
        schemas: Path | None = None
        if peer.available() and not args.no_peer:
            schemas = Path(scratch) / "kubeconform-schemas"
            _step("kubeconform schemas", subprocess.run, [sys.executable, "-m", "benchmarks.peer", str(schemas)])
        else:
            console.print("kubeconform not available (../shared/bin): the peer targets are not judged")
        sizes = [_step(f"{objects:,} objects", size, objects, args.repeats, schemas, Path(scratch) / f"n{objects}")
                 for objects in wanted]
        start = _step("start-up", startup, max(5, args.repeats))
        library = None if args.no_library else _step("library stages", stages, LARGE, Path(scratch))
        mocks = None if args.no_library else _step("Pulumi mocks", pulumi, services_for(min(wanted)))
        simulated = None if args.no_library else _step("scheduling simulation", simulation)
    verdicts = targets(sizes, start)
    if simulated is not None:
        verdicts.append(_judge(f"simulate {simulated['services']:,} services on {simulated['nodes']} nodes, every "
                               "scenario: <= 10 s CPU, <= 500 MiB", f"{simulated['cpu']:.2f} s CPU, "
                               f"{simulated['rss_growth_mib']:.0f} MiB", simulated["met"]))
    print_report(sizes, start, library, mocks, verdicts)
    document = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                            "cpus": os.cpu_count()},
                "kubernetes_version": KUBERNETES_VERSION, "benchmark_seconds": time.perf_counter() - started,
                "sizes": sizes, "startup": start, "library_stages": library, "pulumi_mocks": mocks,
                "simulation": simulated, "targets": verdicts}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(document), indent=2) + "\n")
    console.print(f"wrote {args.json} in {document['benchmark_seconds']:.0f} s")
    return 1 if any(item["met"] is False for item in verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
