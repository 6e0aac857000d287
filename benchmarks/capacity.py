"""Calibration benchmark: real vLLM start-ups replayed through the memory model.

Each run in the calibration file (model, GPU, TP/PP, utilisation, context, vLLM release, and what
vLLM logged: weights, KV cache GiB and tokens, and whether it started) is estimated with the same
settings. The table puts estimate and log side by side; the summary gives the median and worst
ratios and the wrong verdicts (``tight`` counts as fits, as it does in ``synth``), and the targets
are judged: 0 wrong verdicts, KV-cache GiB median within 0.95-1.05 and worst within 0.85-1.20
(over runs that logged at least 1 GiB of KV cache; smaller ones are shown in GiB only). Where the
log gives the engine's KV token count, the logged GiB compared are tokens x bytes per token: with
TP the smallest worker decides the engine's cache, and some logs print one larger worker's GiB.

Run from a checkout:  .venv/bin/python -m benchmarks.capacity [--runs FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vllm_infra.capacity.memory import MemoryEstimate, ServingSettings, estimate
from vllm_infra.catalog.architectures import MODEL_CATALOG, ModelArchitecture
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel, GpuType
from vllm_infra.catalog.quantization import effective_quantization
from vllm_infra.catalog.vllm import REPORTED_BY_CONCURRENCY_SINCE, V1_ENGINE_SINCE, VllmVersion
from vllm_infra.vocabulary.units import GIB_BYTES

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT.parent / "shared" / "calibration" / "vllm_memory_runs.json"
STARTED = "started"
FAILED = ("failed_kv", "failed_oom")
MEDIAN_RANGE = (0.95, 1.05)
WORST_RANGE = (0.85, 1.20)
MIN_RATIO_GIB = 1.0
_ARCH_FIELDS = {field.name for field in fields(ModelArchitecture)}


@dataclass(frozen=True)
class Replay:
    """One calibration run next to its estimate."""

    id: str
    gpu: str
    version: str
    outcome: str
    weights_gib: float
    logged_weights_gib: float | None
    kv_gib: float
    logged_kv_gib: float | None
    kv_tokens: int
    logged_kv_tokens: int | None
    verdict: str
    logged_tokens_gib: float | None
    """The logged token count as GiB of this layout's pool (see ``_pool_gib``)."""
    features: tuple[str, ...]

    @property
    def engine_kv_gib(self) -> float | None:
        """The engine's KV cache as logged: from its token count when known, else the GiB line."""
        return self.logged_tokens_gib if self.logged_kv_tokens else self.logged_kv_gib

    @property
    def predicted_start(self) -> bool:
        return self.verdict in ("fits", "tight")

    @property
    def wrong(self) -> bool:
        """The estimate's start/no-start disagrees with what vLLM did (unknown outcomes never)."""
        return (self.outcome == STARTED and not self.predicted_start) or (
            self.outcome in FAILED and self.predicted_start)

    @property
    def kv_ratio(self) -> float | None:
        """Estimated / logged KV-cache GiB, where the log has enough to compare."""
        logged = self.engine_kv_gib
        if logged is None or logged < MIN_RATIO_GIB:
            return None
        return self.kv_gib / logged


def _architecture(point: dict[str, Any], archs: dict[str, Any]) -> ModelArchitecture:
    """The catalog's entry for the model when it has one (so the catalog's facts are what is
    measured), else the file's."""
    if point["model"] in MODEL_CATALOG:
        return MODEL_CATALOG[point["model"]]
    if point["arch"] in archs:
        return ModelArchitecture(**{key: value for key, value in archs[point["arch"]].items() if key in _ARCH_FIELDS})
    return MODEL_CATALOG[point["arch"]]


def _pool_gib(memory: MemoryEstimate, tokens: int) -> float:
    """The pool a logged "GPU KV cache size: N tokens" implies for this layout: N whole blocks per
    group, or from 0.20.2 N / max_model_len requests of ``blocks_for(max_model_len)`` blocks."""
    settings = memory.settings
    full, local = memory.kv.groups
    if local and settings.version >= REPORTED_BY_CONCURRENCY_SINCE:
        blocks = tokens / settings.max_model_len * memory.blocks_for(settings.max_model_len)
    else:
        blocks = tokens / settings.block_size * (full + local)
    return blocks * memory.kv.block_bytes(settings.block_size) / GIB_BYTES


def features(memory: MemoryEstimate) -> tuple[str, ...]:
    """The traits the per-feature error is reported by."""
    settings, arch = memory.settings, memory.settings.arch
    quantized = settings.quantization or arch.quantization or arch.weight_bytes < 2
    return tuple(name for name, present in (
        ("MoE", arch.active_parameters is not None), ("quantized", bool(quantized)),
        ("sliding window", bool(memory.kv.local_layers)), ("multimodal", arch.encoder_parameters > 0),
        ("TP>1", settings.tensor > 1), ("V0", settings.version < V1_ENGINE_SINCE),
        ("V1", settings.version >= V1_ENGINE_SINCE)) if present)


def _gpu(name: str, gpus: dict[str, Any]) -> GpuModel:
    """A catalogued GPU, or one the file describes by its nvidia-smi total (usable memory then
    follows the catalog's fallback rule: the log's total is what is being predicted)."""
    if name in {gpu_type.value for gpu_type in GpuType}:
        return GPU_CATALOG[GpuType(name)]
    base = GPU_CATALOG[GpuType.L40S]
    return GpuModel(base.type, "nvidia", int(gpus[name]["memory_mib"]), supports_bf16=True, supports_fp8=False,
                    gpus_per_node=8, hourly_price_usd=0.0)


def _version(text: str) -> VllmVersion:
    match = re.search(r"\d+\.\d+\.\d+", text)
    if match is None:
        raise ValueError(f"no vLLM version in {text!r}")
    version = VllmVersion.parse(match.group(0))
    assert version is not None
    return version


def replay(point: dict[str, Any], archs: dict[str, Any], gpus: dict[str, Any]) -> Replay:
    """Estimate one run with its logged settings."""
    arch = _architecture(point, archs)
    settings = ServingSettings(
        arch=arch, gpu=_gpu(point["gpu"], gpus), tensor=int(point["tp"]),
        pipeline=int(point["pp"]), dtype=point["dtype"],
        quantization=effective_quantization(point["quantization"], arch.quantization),
        kv_cache_dtype=point["kv_cache_dtype"], max_model_len=int(point["max_model_len"]),
        max_num_seqs=int(point["max_num_seqs"]), utilization=float(point["util"]),
        version=_version(point["vllm_version"]))
    memory: MemoryEstimate = estimate(settings)
    log = point["log"]
    tokens = log.get("kv_tokens")
    return Replay(point["id"], point["gpu"], str(settings.version), log["outcome"], memory.weights / GIB_BYTES,
                  log.get("weights_gib"), memory.kv_space / GIB_BYTES, log.get("kv_gib"), memory.kv_capacity,
                  tokens, memory.verdict.value, _pool_gib(memory, tokens) if tokens else None, features(memory))


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def by_feature(replays: list[Replay]) -> dict[str, dict[str, Any]]:
    """Runs, KV ratio median and worst, and wrong verdicts of the runs with each feature."""
    table: dict[str, dict[str, Any]] = {}
    for name in sorted({feature for r in replays for feature in r.features}):
        rows = [r for r in replays if name in r.features]
        kv = [r.kv_ratio for r in rows if r.kv_ratio is not None]
        table[name] = {"runs": len(rows), "kv_ratios": len(kv),
                       "kv_ratio_median": statistics.median(kv) if kv else None,
                       "kv_ratio_worst": max(kv, key=lambda ratio: abs(ratio - 1)) if kv else None,
                       "wrong_verdicts": [r.id for r in rows if r.wrong]}
    return table


def summary(replays: list[Replay]) -> dict[str, Any]:
    """Median and worst KV ratios, weight ratios and wrong verdicts, with the targets judged."""
    kv = [r.kv_ratio for r in replays if r.kv_ratio is not None]
    weights = [r.weights_gib / r.logged_weights_gib for r in replays if r.logged_weights_gib]
    worst = max(kv, key=lambda ratio: abs(ratio - 1)) if kv else None
    wrong = [r.id for r in replays if r.wrong]
    return {
        "runs": len(replays), "judged_verdicts": sum(1 for r in replays if r.outcome in (STARTED, *FAILED)),
        "wrong_verdicts": wrong, "kv_ratio_median": statistics.median(kv) if kv else None, "kv_ratio_worst": worst,
        "kv_ratios": len(kv), "weights_ratio_median": statistics.median(weights) if weights else None,
        "weights_ratio_worst": max(weights, key=lambda ratio: abs(ratio - 1)) if weights else None,
        "targets": {
            "0 wrong verdicts": not wrong,
            f"KV GiB median ratio within {MEDIAN_RANGE[0]}-{MEDIAN_RANGE[1]}":
                bool(kv) and MEDIAN_RANGE[0] <= statistics.median(kv) <= MEDIAN_RANGE[1],
            f"KV GiB worst ratio within {WORST_RANGE[0]}-{WORST_RANGE[1]}":
                worst is not None and WORST_RANGE[0] <= worst <= WORST_RANGE[1],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RUNS, help="Calibration file (vllm_memory_runs.json format).")
    parser.add_argument("--json", type=Path, help="Also write the rows and the summary as JSON.")
    options = parser.parse_args(argv)
    data = json.loads(options.runs.read_text())
    replays = [replay(point, data.get("archs", {}), data.get("gpus", {})) for point in data["points"]]
    console = Console(width=160)
    table = Table(title=f"memory model vs {len(replays)} logged vLLM start-ups ({options.runs.name})")
    for column in ("run", "GPU", "vLLM", "weights GiB est/log", "KV GiB est/log (engine)", "ratio", "KV tokens est/log",
                   "verdict", "outcome", ""):
        table.add_column(column)
    for r in replays:
        table.add_row(r.id, r.gpu, r.version, f"{r.weights_gib:.2f} / {_fmt(r.logged_weights_gib)}",
                      f"{r.kv_gib:.2f} / {_fmt(r.logged_kv_gib)}"
                      + (f" ({r.engine_kv_gib:.2f})" if r.logged_kv_tokens and r.engine_kv_gib else ""),
                      _fmt(r.kv_ratio),
                      f"{r.kv_tokens:,} / {_fmt(r.logged_kv_tokens, '{:,}')}", r.verdict, r.outcome,
                      "WRONG" if r.wrong else "")
    console.print(table)
    result = summary(replays)
    ratio = {key: _fmt(result[key], "{:.3f}") for key in ("kv_ratio_median", "kv_ratio_worst", "weights_ratio_median",
                                                          "weights_ratio_worst")}
    console.print(f"KV GiB ratio over {result['kv_ratios']} runs: median {ratio['kv_ratio_median']}, worst "
                  f"{ratio['kv_ratio_worst']}; weights ratio median {ratio['weights_ratio_median']}, worst "
                  f"{ratio['weights_ratio_worst']}; wrong verdicts "
                  f"{len(result['wrong_verdicts'])}/{result['judged_verdicts']}"
                  + (f" ({', '.join(result['wrong_verdicts'])})" if result["wrong_verdicts"] else ""), markup=False)
    per_feature = by_feature(replays)
    breakdown = Table(title="error by feature")
    for column in ("feature", "runs", "KV ratios", "median", "worst", "wrong verdicts"):
        breakdown.add_column(column)
    for name, row in per_feature.items():
        breakdown.add_row(name, str(row["runs"]), str(row["kv_ratios"]), _fmt(row["kv_ratio_median"], "{:.3f}"),
                          _fmt(row["kv_ratio_worst"], "{:.3f}"), ", ".join(row["wrong_verdicts"]) or "0")
    console.print(breakdown)
    for target, met in result["targets"].items():
        console.print(f"  {'met ' if met else 'MISSED'} {target}", markup=False)
    if options.json:
        options.json.write_text(json.dumps({"rows": [{**r.__dict__, "engine_kv_gib": r.engine_kv_gib,
                                                      "kv_ratio": r.kv_ratio, "wrong": r.wrong}
                                                     for r in replays], "summary": result,
                                            "by_feature": per_feature}, indent=2))
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
