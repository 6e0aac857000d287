"""The single changes that make a configuration fit, each re-estimated, and what a GPU can run at
all (fp8 weights and KV cache need hardware support)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vllm_infra.capacity.memory import FP8_FORMATS, MemoryEstimate, ServingSettings, estimate
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuModel

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
    """One change that makes the configuration fit: the spec field and its new value."""

    field: str
    value: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.value}" + (f" ({self.note})" if self.note else "")


def _fits(settings: ServingSettings) -> bool:
    runnable = not unsupported_formats(settings.gpu, dtype=settings.dtype, quantization=settings.quantization,
                                       kv_cache_dtype=settings.kv_cache_dtype,
                                       moe=settings.arch.active_parameters is not None)
    return runnable and estimate(settings).fits


def fit_options(current: MemoryEstimate, *, gpus_per_node: int, nodes: int,
                gpus: Iterable[GpuModel] = GPU_CATALOG.values()) -> list[FitOption]:
    """Single changes that fit: more tensor parallelism, a larger GPU, a shorter context, fp8
    weights or an fp8 KV cache (the last two only where the GPU runs them)."""
    settings, options = current.settings, []
    for tensor in TENSOR_SIZES:
        if tensor <= settings.tensor or settings.arch.attention_heads % tensor:
            continue
        if _fits(replace(settings, tensor=tensor)):
            needed = math.ceil(tensor * settings.pipeline / gpus_per_node)
            options.append(FitOption("parallelism.tensor", str(tensor),
                                     f"with parallelism.nodes: {needed}" if needed > nodes else ""))
            break
    larger = [gpu for gpu in sorted(gpus, key=lambda g: g.memory_mib)
              if gpu.memory_mib > settings.gpu.memory_mib and _fits(replace(settings, gpu=gpu))]
    if larger:
        options.append(FitOption("accelerator.type", larger[0].type.value))
    if current.weights_fit and current.longest_context >= 1024:
        options.append(FitOption("model.max_model_len", str(current.longest_context)))
    if not settings.quantization and _fits(replace(settings, quantization="fp8")):
        options.append(FitOption("model.quantization", "fp8"))
    if settings.kv_cache_dtype == "auto" and current.weights_fit and _fits(replace(settings, kv_cache_dtype="fp8")):
        options.append(FitOption("model.kv_cache_dtype", "fp8"))
    return options
