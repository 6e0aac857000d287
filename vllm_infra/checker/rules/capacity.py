"""Will the model fit? The spec's memory estimate, run on any manifest: the model from the
server's arguments (catalog or ``--model-config``), the GPU from the pod's node selector or
required node affinity (or ``--gpu``), and every engine flag that changes memory. A pod that pins
no GPU type is judged on every GPU of its vendor and reported when the model fits on fewer than
half of them (it then most likely lands on one it does not fit)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from vllm_infra.capacity.fit import explain, fit_options
from vllm_infra.capacity.memory import (
    DTYPE_BYTES,
    MemoryEstimate,
    ServingSettings,
    Verdict,
    estimate,
    sizing_gap,
)
from vllm_infra.catalog.architectures import MODEL_CATALOG, ModelArchitecture
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel, GpuType
from vllm_infra.catalog.quantization import effective_quantization, refused_quantization
from vllm_infra.catalog.vllm import VllmVersion, hybrid_kv_manager
from vllm_infra.catalog.vllm_releases import release_catalog
from vllm_infra.checker.reading.accelerators import is_cpu_build, pinned_gpus, pod_gpus, vendor_gpus
from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.reading.server import EngineArgs, args_path, engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.reading.templates import ContainerRef, PodTemplate
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS
from vllm_infra.vocabulary.reporting import Severity

_DTYPE_ALIASES = {"half": "float16", "float": "float32", "auto": "auto", **{d: d for d in DTYPE_BYTES}}


@dataclass(frozen=True)
class _Sizing:
    """What the memory estimate makes of one vLLM server: estimates on its candidate GPUs, or why
    it cannot say (``gap``), or why vLLM will not start at all (``refused``)."""

    estimates: tuple[MemoryEstimate, ...] = ()
    pinned: bool = False
    gap: str | None = None
    refused: str | None = None


def _sizing(obj: Manifest, template: PodTemplate, serving: ContainerRef, ctx: RuleContext) -> _Sizing | None:
    """None for servers the check does not size: multi-node workers, CPU builds, no GPUs."""
    if template.role == "worker" or is_cpu_build(serving.spec) or not pod_gpus(template, serving.spec):
        return None
    args = engine_args(serving.spec)
    if not args.model or "$" in args.model:
        return _Sizing(gap=f"the model is not named in the server's arguments ({args.model or 'none'})")
    model = args.repository or args.model
    arch = dict(ctx.architectures).get(model) or MODEL_CATALOG.get(model)
    if arch is None:
        where = "not in the model catalog" if args.repository else (
            "a local path or object-store URI whose --served-model-name names no Hugging Face id")
        return _Sizing(gap=f"{model} is {where}")
    flag = args.flag("quantization")
    flag = flag if isinstance(flag, str) else None
    if refused_quantization(flag, arch.quantization):
        return _Sizing(refused=f"the checkpoint of {model} is {arch.quantization}, and vLLM refuses --quantization "
                               f"{flag} for it (leave the flag out: vLLM reads the format from the checkpoint)")
    quantization = effective_quantization(flag, arch.quantization)
    gap = sizing_gap(arch, quantization)
    if gap:
        return _Sizing(gap=f"{model}: {gap}")
    candidates = pinned_gpus(template)
    pinned = bool(candidates)
    if not pinned:
        candidates = [GPU_CATALOG[ctx.gpu]] if ctx.gpu else vendor_gpus(serving.spec)
        pinned = ctx.gpu is not None
    par = args.parallelism
    if par.tensor is not None and par.pipeline is not None and par.data is not None and \
            not par.fills(pod_gpus(template, serving.spec), template.size):
        return _Sizing()  # VI-GPU-002 reports the mismatch; memory per GPU would be guesswork
    if (par.data or 1) > 1 and par.expert:
        return _Sizing(gap=f"{model}: expert parallelism over {par.data} data-parallel ranks splits the experts "
                           "between them, and that per-GPU share of the weights is not modelled")
    estimates = tuple(memory for gpu in candidates
                      if (memory := _estimate(arch, gpu, args, quantization, template, serving)) is not None)
    if candidates and not estimates:
        return _Sizing(gap="a flag that decides memory does not read as a number (--tensor-parallel-size, "
                           "--max-model-len, --gpu-memory-utilization, --dtype...)")
    return _Sizing(estimates, pinned)


@resource_rule(
    "VI-CAP-001", Severity.HIGH, "The model fits the memory of the GPUs it is scheduled on",
    "Follow the finding's numbers: more tensor parallelism, a larger GPU, a shorter --max-model-len, fp8 weights "
    "or KV cache, or more room outside --gpu-memory-utilization; pin the GPU type with a node selector.",
    kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("vLLM allocates the KV cache from what the GPU has left after weights and profiling: a "
               "model that does not fit exits at start, or serves fewer tokens than max_model_len."),
    example="args: [--model, meta-llama/Llama-3.1-70B-Instruct]   # on one L4 (24 GB)")
def model_fits(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        sizing = _sizing(obj, template, serving, ctx)
        if sizing is None:
            continue
        if sizing.refused:
            yield Violation(args_path(serving), f"vLLM refuses to start: {sizing.refused}", severity=Severity.CRITICAL)
        elif sizing.estimates:
            args = engine_args(serving.spec)
            yield from _judge(str(args.repository or args.model), list(sizing.estimates), sizing.pinned, serving,
                              template.size)


@resource_rule(
    "VI-CAP-002", Severity.LOW, "Every GPU vLLM server is sized",
    "Pass the model's Hugging Face config.json with check --model-config MODEL=path/to/config.json (or add it to "
    "the catalog); name the model in the server's arguments, and write memory flags as numbers.",
    kinds=WORKLOAD_KINDS, gpu=True,
    rationale=("A server the memory estimate cannot size is not proven to fit: without a word it would pass "
               "as if it did."),
    example="args: [--model, acme/in-house-model]   # not in the catalog, no --model-config")
def model_sized(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for template, serving in vllm_pod_templates(obj):
        sizing = _sizing(obj, template, serving, ctx)
        if sizing is not None and sizing.gap:
            yield Violation(args_path(serving), f"memory fit not checked: {sizing.gap}")


def _judge(model: str, estimates: list[MemoryEstimate], pinned: bool, serving: ContainerRef,
           nodes: int) -> Iterator[Violation]:
    worst = min(estimates, key=lambda m: (m.fits, m.verdict == Verdict.FITS, m.kv_space))
    if worst.verdict == Verdict.FITS:
        return
    settings = worst.settings
    where = (f"{model} (TP={settings.tensor}, PP={settings.pipeline}, vLLM {settings.version}) on "
             f"{settings.tensor * settings.pipeline} x {worst.gpu.type}")
    if not pinned:
        fitting = [m.gpu.type.value for m in estimates if m.verdict == Verdict.FITS]
        if len(fitting) * 2 >= len(estimates):
            return  # an unpinned pod most likely lands on a GPU it fits
        if fitting:
            yield Violation((*serving.path, "resources"),
                            f"the pod pins no GPU type and {model} fits only on {', '.join(fitting)}: {where}: "
                            f"{explain(worst)}. Pin a GPU type with a node selector (nvidia.com/gpu.product, "
                            "cloud.google.com/gke-accelerator, karpenter.k8s.aws/instance-gpu-name or an instance "
                            "type)",
                            severity=Severity.MEDIUM)
            return
    if worst.verdict == Verdict.TIGHT:
        yield Violation((*serving.path, "args"), f"tight: {where}: {explain(worst)}", severity=Severity.MEDIUM)
        return
    options = fit_options(worst, gpus_per_node=worst.gpu.gpus_per_node, nodes=nodes)
    fixes = "; ".join(option.as_flag for option in options) or "no single change fits"
    yield Violation((*serving.path, "args"), f"{where} does not fit: {explain(worst)}. Fits with: {fixes}")


def _estimate(arch: ModelArchitecture, gpu: GpuModel, args: EngineArgs, quantization: str | None,
              template: PodTemplate, serving: ContainerRef) -> MemoryEstimate | None:
    """The estimate for the flags as written; None when a flag that decides memory cannot be read."""
    flags = args.flags
    version = image_version(serving.spec, template.labels) or release_catalog().newest.version
    tensor, pipeline = args.parallelism.tensor, args.parallelism.pipeline
    length = args.integer("max-model-len", arch.context_length)
    dtype = _DTYPE_ALIASES.get(str(flags.get("dtype", "auto")))
    utilization = _fraction(flags.get("gpu-memory-utilization"), _default_utilization(version))
    if tensor is None or pipeline is None or length is None or dtype is None or utilization is None:
        return None
    kv_dtype = "fp8" if str(flags.get("kv-cache-dtype", "auto")).startswith("fp8") else "auto"
    hybrid = hybrid_kv_manager(flags)
    lora = flags.get("enable-lora") is True
    slots, rank = (args.integer("max-loras", 1), args.integer("max-lora-rank", 16)) if lora else (0, 0)
    if slots is None or rank is None:
        return None
    return _cached_estimate(
        arch, gpu.type, tensor, pipeline, str(dtype), quantization, kv_dtype, length,
        args.integer("max-num-seqs", 0) or None, utilization, version,
        args.integer("max-num-batched-tokens", 0) or None,
        args.integer("kv-cache-memory-bytes", 0) or None,
        args.integer("block-size", 16) or 16, flags.get("enforce-eager") is True, hybrid, slots, rank)


@lru_cache(maxsize=4096)
def _cached_estimate(arch: ModelArchitecture, gpu: GpuType, tensor: int, pipeline: int, dtype: str,
                     quantization: str | None, kv_cache_dtype: str, max_model_len: int, max_num_seqs: int | None,
                     utilization: float, version: VllmVersion, max_num_batched_tokens: int | None,
                     kv_cache_memory_bytes: int | None, block_size: int, enforce_eager: bool,
                     hybrid_kv: bool, lora_slots: int, lora_rank: int) -> MemoryEstimate:
    """One estimate per distinct configuration: a fleet repeats a few shapes thousands of times."""
    return estimate(ServingSettings(arch, GPU_CATALOG[gpu], tensor, pipeline, dtype, quantization, kv_cache_dtype,
                                    max_model_len, max_num_seqs, utilization, version, max_num_batched_tokens,
                                    kv_cache_memory_bytes, block_size, enforce_eager, hybrid_kv, lora_slots,
                                    lora_rank))


def _default_utilization(version: VllmVersion) -> float:
    default = release_catalog().flags(version).get("--gpu-memory-utilization")
    return float(default.default) if default is not None and isinstance(default.default, float) else 0.9


def _fraction(value: Any, default: float) -> float | None:
    if value is None:
        return default
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if 0 < number <= 1 else None
