"""Memory per GPU: weights, runtime overhead and what is left for the KV cache, against GPU memory
x ``gpu_memory_utilization``.

The hard limit is vLLM's own: after weights and overhead, the KV cache must hold at least one
sequence of ``max_model_len`` tokens, or the engine refuses to start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.vocabulary.units import GIB_BYTES, MIB_BYTES

RUNTIME_OVERHEAD_GIB = 1.0
"""Per GPU: CUDA context, NCCL and cuBLAS workspaces, CUDA graphs."""
BATCHED_TOKENS = 8192
"""Tokens in the profiling forward pass (vLLM's default ``max_num_batched_tokens`` on servers)."""
QUANTIZED_BYTES = {"awq": 0.5625, "gptq": 0.5625, "bitsandbytes": 0.5625, "fp8": 1.0}
"""Bytes per parameter of quantized weights (4-bit formats include group scales)."""
DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0}
FP8_FORMATS = frozenset({"fp8"})
"""Quantizations and KV-cache dtypes that need an fp8-capable GPU."""


def weight_bytes_per_parameter(arch: ModelArchitecture, dtype: str, quantization: str | None) -> float:
    """Bytes each parameter occupies on the GPU."""
    if quantization:
        return QUANTIZED_BYTES[quantization]
    return arch.weight_bytes if dtype == "auto" else DTYPE_BYTES[dtype]


def kv_bytes_per_element(dtype: str, kv_cache_dtype: str) -> float:
    """Bytes per cached K/V element."""
    if kv_cache_dtype in FP8_FORMATS:
        return 1.0
    return 4.0 if dtype == "float32" else 2.0


@dataclass(frozen=True)
class ServingSettings:
    """Everything the memory estimate depends on: one model, on one GPU type, configured one way."""

    arch: ModelArchitecture
    gpu: GpuModel
    tensor: int
    pipeline: int
    dtype: str
    quantization: str | None
    kv_cache_dtype: str
    max_model_len: int
    max_num_seqs: int
    utilization: float

    @property
    def weights_bytes(self) -> float:
        """The model's weights as served, all GPUs together."""
        return self.arch.parameters * weight_bytes_per_parameter(self.arch, self.dtype, self.quantization)


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-GPU memory of one configuration (all sizes in bytes)."""

    settings: ServingSettings
    weights: float
    overhead: float
    kv_per_token: float

    @property
    def gpu(self) -> GpuModel:
        """The GPU the estimate is for."""
        return self.settings.gpu

    @property
    def max_model_len(self) -> int:
        """Context length the estimate must hold."""
        return self.settings.max_model_len

    @property
    def budget(self) -> float:
        """GPU memory vLLM may use: total x gpu_memory_utilization."""
        return self.gpu.memory_mib * MIB_BYTES * self.settings.utilization

    @property
    def kv_space(self) -> float:
        """Bytes left for the KV cache (negative when weights alone do not fit)."""
        return self.budget - self.weights - self.overhead

    @property
    def kv_capacity(self) -> int:
        """Tokens the KV cache of one replica holds."""
        return max(0, math.floor(self.kv_space / self.kv_per_token)) if self.kv_per_token else 0

    @property
    def weights_fit(self) -> bool:
        """Weights and overhead fit in the budget."""
        return self.kv_space > 0

    @property
    def fits(self) -> bool:
        """vLLM can start: the KV cache holds at least one ``max_model_len`` sequence."""
        return self.kv_capacity >= self.max_model_len

    @property
    def full_length_sequences(self) -> float:
        """Sequences of ``max_model_len`` tokens the KV cache holds at once."""
        return self.kv_capacity / self.max_model_len

    @property
    def longest_context(self) -> int:
        """Largest ``max_model_len`` that fits, rounded down to a multiple of 1024."""
        return self.kv_capacity // 1024 * 1024


def kv_bytes_per_token(arch: ModelArchitecture, tensor: int, pipeline: int, element_bytes: float) -> float:
    """KV-cache bytes one token occupies on each GPU (layers split by PP, KV heads by TP)."""
    layers = math.ceil(arch.layers / pipeline)
    if arch.kv_latent_dim:
        return layers * arch.kv_latent_dim * element_bytes
    heads = max(1, arch.kv_heads // tensor)
    return 2 * layers * heads * arch.head_dim * element_bytes


def estimate(settings: ServingSettings) -> MemoryEstimate:
    """Memory per GPU for serving ``settings.arch`` on ``settings.gpu`` with TP x PP."""
    arch, tensor = settings.arch, settings.tensor
    weights = settings.weights_bytes / (tensor * settings.pipeline)
    activation_bytes = 4.0 if settings.dtype == "float32" else 2.0
    activations = BATCHED_TOKENS * (arch.hidden_size + 2 * arch.intermediate_size / tensor) * activation_bytes
    logits = settings.max_num_seqs * arch.vocab_size * 4.0
    overhead = RUNTIME_OVERHEAD_GIB * GIB_BYTES + activations + logits
    kv = kv_bytes_per_token(arch, tensor, settings.pipeline, kv_bytes_per_element(settings.dtype,
                                                                                  settings.kv_cache_dtype))
    return MemoryEstimate(settings, weights, overhead, kv)
