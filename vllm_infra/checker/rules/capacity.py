"""Will the model fit? The spec's memory estimate, run on any manifest: the model from the
server's arguments (catalog or ``--model-config``), the GPU from the pod's node selector or
required node affinity (or ``--gpu``), and every engine flag that changes memory. A pod that pins
no GPU type is judged on every GPU of its vendor and reported when the model fits on fewer than
half of them (it then most likely lands on one it does not fit)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from vllm_infra.capacity.fit import explain, fit_options
from vllm_infra.capacity.memory import (
    DTYPE_BYTES,
    QUANTIZED_BYTES,
    MemoryEstimate,
    ServingSettings,
    Verdict,
    estimate,
)
from vllm_infra.catalog.architectures import MODEL_CATALOG, ModelArchitecture
from vllm_infra.catalog.gpus import (
    GPU_CATALOG,
    GPU_MEMORY_LABEL,
    NODE_GPU_LABEL_KEYS,
    GpuModel,
    GpuType,
    gpus_of_node_label,
)
from vllm_infra.catalog.vllm import VllmVersion
from vllm_infra.catalog.vllm_releases import release_catalog
from vllm_infra.checker.reading.accelerators import gpu_count, gpu_resources, is_cpu_build
from vllm_infra.checker.reading.objects import Manifest, as_list, dig
from vllm_infra.checker.reading.server import EngineArgs, engine_args, image_version, vllm_pod_templates
from vllm_infra.checker.reading.templates import ContainerRef, PodTemplate, group_size
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import WORKLOAD_KINDS
from vllm_infra.vocabulary.reporting import Severity

_DTYPE_ALIASES = {"half": "float16", "float": "float32", "auto": "auto", **{d: d for d in DTYPE_BYTES}}
_QUANTIZATION_ALIASES = {"awq_marlin": "awq", "gptq_marlin": "gptq", **{q: q for q in QUANTIZED_BYTES}}


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
        if template.role == "worker" or is_cpu_build(serving.spec) or not gpu_resources(serving.spec):
            continue
        args = engine_args(serving.spec)
        arch = dict(ctx.architectures).get(args.model or "") or MODEL_CATALOG.get(args.model or "")
        candidates = _pinned_gpus(template, serving)
        pinned = bool(candidates)
        if not pinned:
            candidates = [GPU_CATALOG[ctx.gpu]] if ctx.gpu else _vendor_gpus(serving)
            pinned = ctx.gpu is not None
        if arch is None or not candidates:
            continue
        estimates = [memory for gpu in candidates
                     if (memory := _estimate(arch, gpu, args, template, serving, obj)) is not None]
        if estimates:
            yield from _judge(str(args.model), estimates, pinned, serving, group_size(obj))


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


def _pinned_gpus(template: PodTemplate, serving: ContainerRef) -> list[GpuModel]:
    """GPU types the node selector and required node affinity allow (empty when they name none)."""
    allowed: set[GpuType] | None = None
    selector = template.spec.get("nodeSelector")
    for key, value in (selector.items() if isinstance(selector, Mapping) else ()):
        if key in NODE_GPU_LABEL_KEYS:
            found = set(gpus_of_node_label(str(key), str(value)))
            allowed = found if allowed is None else allowed & found
    terms = as_list(dig(template.spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                        "nodeSelectorTerms"))
    from_terms: set[GpuType] = set()
    named = False
    for term in terms:
        term_types: set[GpuType] | None = None
        for expression in as_list(term.get("matchExpressions") if isinstance(term, Mapping) else None):
            if isinstance(expression, Mapping) and expression.get("key") in NODE_GPU_LABEL_KEYS \
                    and expression.get("operator") == "In":
                found = {t for v in as_list(expression.get("values"))
                         for t in gpus_of_node_label(str(expression["key"]), str(v))}
                term_types = found if term_types is None else term_types & found
        if term_types is not None:
            named = True
            from_terms |= term_types
    if named:
        allowed = from_terms if allowed is None else allowed & from_terms
    sizes = _memory_sizes(selector, terms)
    return [GPU_CATALOG[t] for t in sorted(allowed or ()) if not sizes or str(GPU_CATALOG[t].memory_mib) in sizes]


def _memory_sizes(selector: object, terms: list[Any]) -> set[str]:
    """GPU memory sizes (MiB) a Karpenter memory label pins, if any."""
    sizes = {str(selector[GPU_MEMORY_LABEL])} if isinstance(selector, Mapping) and GPU_MEMORY_LABEL in selector \
        else set()
    for term in terms:
        for expression in as_list(term.get("matchExpressions") if isinstance(term, Mapping) else None):
            if isinstance(expression, Mapping) and expression.get("key") == GPU_MEMORY_LABEL \
                    and expression.get("operator") == "In":
                sizes |= {str(value) for value in as_list(expression.get("values"))}
    return sizes


def _vendor_gpus(serving: ContainerRef) -> list[GpuModel]:
    resources = set(gpu_resources(serving.spec))
    return [gpu for gpu in GPU_CATALOG.values() if gpu.resource_name in resources]


def _estimate(arch: ModelArchitecture, gpu: GpuModel, args: EngineArgs, template: PodTemplate,
              serving: ContainerRef, obj: Manifest) -> MemoryEstimate | None:
    """The estimate for the flags as written; None when a flag that decides memory cannot be read."""
    flags = args.flags
    version = image_version(serving.spec, template.labels) or release_catalog().newest.version
    tensor, pipeline = args.parallelism.tensor, args.parallelism.pipeline
    length = args.integer("max-model-len", arch.context_length)
    dtype = _DTYPE_ALIASES.get(str(flags.get("dtype", "auto")))
    quantization = flags.get("quantization")
    quantized = _QUANTIZATION_ALIASES.get(str(quantization)) if quantization else None
    utilization = _fraction(flags.get("gpu-memory-utilization"), _default_utilization(version))
    if None in (tensor, pipeline, length, dtype, utilization) or (quantization and quantized is None):
        return None
    assert tensor is not None and pipeline is not None and length is not None and utilization is not None
    if tensor * pipeline != gpu_count(serving.spec) * group_size(obj):
        return None  # VI-GPU-001 reports the mismatch; memory per GPU would be guesswork
    kv_dtype = "fp8" if str(flags.get("kv-cache-dtype", "auto")).startswith("fp8") else "auto"
    return _cached_estimate(
        arch, gpu.type, tensor, pipeline, str(dtype), quantized, kv_dtype, length,
        args.integer("max-num-seqs", 0) or None, utilization, version,
        args.integer("max-num-batched-tokens", 0) or None,
        args.integer("kv-cache-memory-bytes", 0) or None,
        args.integer("block-size", 16) or 16, flags.get("enforce-eager") is True)


@lru_cache(maxsize=4096)
def _cached_estimate(arch: ModelArchitecture, gpu: GpuType, tensor: int, pipeline: int, dtype: str,
                     quantization: str | None, kv_cache_dtype: str, max_model_len: int, max_num_seqs: int | None,
                     utilization: float, version: VllmVersion, max_num_batched_tokens: int | None,
                     kv_cache_memory_bytes: int | None, block_size: int, enforce_eager: bool) -> MemoryEstimate:
    """One estimate per distinct configuration: a fleet repeats a few shapes thousands of times."""
    return estimate(ServingSettings(arch, GPU_CATALOG[gpu], tensor, pipeline, dtype, quantization, kv_cache_dtype,
                                    max_model_len, max_num_seqs, utilization, version, max_num_batched_tokens,
                                    kv_cache_memory_bytes, block_size, enforce_eager))


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
