"""The single changes that make a configuration fit, each re-estimated, and what a GPU can run at
all (fp8 weights and KV cache need hardware support)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vllm_infra.capacity.memory import FIT_MARGIN, FP8_FORMATS, MemoryEstimate, ServingSettings, Verdict, estimate
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel
from vllm_infra.vocabulary.units import format_gib

TENSOR_SIZES = (2, 4, 8, 16)


def unsupported_formats(gpu: GpuModel, *, dtype: str, quantization: str | None, kv_cache_dtype: str,
                        moe: bool) -> list[tuple[str, str]]:
    """(setting, reason) for each precision ``gpu`` cannot run."""
    problems = []
    if dtype == "bfloat16" and not gpu.supports_bf16:
        problems.append(("dtype", f"{gpu.type} does not support bfloat16; set model.dtype to float16"))
    if quantization in FP8_FORMATS and not gpu.runs_fp8_weights(moe=moe):
        why = "fused MoE layers need FP8 hardware" if moe and gpu.fp8_weight_only else "it has no FP8 support"
        problems.append(("quantization", f"{gpu.type} cannot run fp8 weights ({why}: FP8 needs compute "
                                         "capability 8.9 or newer, weight-only FP8 on dense models 8.0)"))
    if kv_cache_dtype in FP8_FORMATS and not gpu.supports_fp8:
        problems.append(("kv_cache_dtype", f"{gpu.type} has no FP8 hardware for an fp8 KV cache (compute "
                                           "capability 8.9 or newer, or MI300)"))
    return problems


@dataclass(frozen=True)
class FitOption:
    """One change that makes the configuration fit: the spec field and its new value, and the
    ``vllm serve`` flag (or GPU type) that says the same in a hand-written manifest."""

    field: str
    value: str
    note: str = ""
    flag: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.value}" + (f" ({self.note})" if self.note else "")

    @property
    def as_flag(self) -> str:
        """The change in a manifest's terms (``--tensor-parallel-size=4``, ``GPU type H200``)."""
        return (f"{self.flag}={self.value}" if self.flag else f"GPU type {self.value}") + (
            f" ({self.note})" if self.note else "")


def _fits(settings: ServingSettings) -> bool:
    """Starts with the margin (``Verdict.FITS``) on a GPU that runs its formats."""
    runnable = not unsupported_formats(settings.gpu, dtype=settings.dtype, quantization=settings.quantization,
                                       kv_cache_dtype=settings.kv_cache_dtype,
                                       moe=settings.arch.active_parameters is not None)
    return runnable and estimate(settings).verdict == Verdict.FITS


def explain(memory: MemoryEstimate) -> str:
    """The numbers behind a verdict other than fits, per GPU."""
    budget = (f"{format_gib(memory.budget)} budget ({format_gib(memory.usable)} usable on a {memory.gpu.type} x "
              f"gpu_memory_utilization {memory.settings.utilization})")
    kv = (f"{format_gib(memory.kv_space)} of KV cache holds {memory.kv_capacity} tokens "
          f"({memory.kv_per_token / 1024:.0f} KiB per token and GPU)")
    if memory.verdict == Verdict.NO_HEADROOM:
        return (f"the {format_gib(memory.headroom)} left outside the {budget} cannot hold the CUDA context and graphs "
                f"({format_gib(memory.headroom_needed)}): the engine runs out of memory after allocating the KV cache")
    if not memory.weights_fit:
        return (f"{format_gib(memory.weights)} of weights plus {format_gib(memory.overhead)} of runtime overhead "
                f"exceed the {budget}")
    relation = "fewer than" if memory.verdict == Verdict.TOO_SMALL else f"less than {FIT_MARGIN} x"
    return (f"after {format_gib(memory.weights)} of weights and {format_gib(memory.overhead)} of overhead in the "
            f"{budget}, {kv}, {relation} max_model_len {memory.max_model_len}")


def fit_options(current: MemoryEstimate, *, gpus_per_node: int, nodes: int,
                gpus: Iterable[GpuModel] = GPU_CATALOG.values()) -> list[FitOption]:
    """Single changes that fit with the margin: more tensor parallelism, a larger GPU, a shorter
    context, fp8 weights or an fp8 KV cache (the last two only where the GPU runs them), and for
    missing headroom a lower utilisation or no CUDA graphs."""
    settings, options = current.settings, []
    if current.verdict == Verdict.NO_HEADROOM:
        options += _headroom_options(current)
    for tensor in TENSOR_SIZES:
        if tensor <= settings.tensor or settings.arch.attention_heads % tensor:
            continue
        if _fits(replace(settings, tensor=tensor)):
            needed = math.ceil(tensor * settings.pipeline / gpus_per_node)
            options.append(FitOption("parallelism.tensor", str(tensor),
                                     f"with parallelism.nodes: {needed}" if needed > nodes else "",
                                     "--tensor-parallel-size"))
            break
    larger = [gpu for gpu in sorted(gpus, key=lambda g: g.memory_mib)
              if gpu.memory_mib > settings.gpu.memory_mib and _fits(replace(settings, gpu=gpu))]
    if larger:
        options.append(FitOption("accelerator.type", larger[0].type.value))
    shorter = current.longest_context
    if current.weights_fit and shorter >= 1024 and _fits(replace(settings, max_model_len=shorter)):
        options.append(FitOption("model.max_model_len", str(shorter), flag="--max-model-len"))
    if not settings.quantization and _fits(replace(settings, quantization="fp8")):
        options.append(FitOption("model.quantization", "fp8", flag="--quantization"))
    if settings.kv_cache_dtype == "auto" and current.weights_fit and _fits(replace(settings, kv_cache_dtype="fp8")):
        options.append(FitOption("model.kv_cache_dtype", "fp8", flag="--kv-cache-dtype"))
    return options


def _headroom_options(current: MemoryEstimate) -> list[FitOption]:
    """Leave the context and graphs room below the budget, or capture no graphs."""
    settings, options = current.settings, []
    room = math.floor((1 - current.headroom_needed / current.usable) * 100) / 100
    if room < settings.utilization and _fits(replace(settings, utilization=room)):
        options.append(FitOption("model.gpu_memory_utilization", f"{room:.2f}", flag="--gpu-memory-utilization"))
    if not settings.enforce_eager and _fits(replace(settings, enforce_eager=True)):
        options.append(FitOption("model.extra_args.enforce-eager", "true", "no CUDA graphs: slower decoding",
                                 "--enforce-eager"))
    return options
