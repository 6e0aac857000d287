"""Will it fit? Weights, KV cache and overhead per GPU against GPU memory x gpu_memory_utilization,
and how long a cold start takes. Pure arithmetic over catalog facts.

The hard limit is vLLM's own: after weights and overhead, the KV cache must hold at least one
sequence of ``max_model_len`` tokens, or the engine refuses to start. ``max_model_len x
max_num_seqs`` is reported as the full-batch worst case; vLLM queues or preempts sequences beyond
the KV capacity rather than failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.catalog.models import ModelArchitecture
from vllm_infra.units import GIB_BYTES

MIB = 2**20
RUNTIME_OVERHEAD_GIB = 1.0
"""Per GPU: CUDA context, NCCL and cuBLAS workspaces, CUDA graphs."""
BATCHED_TOKENS = 8192
"""Tokens in the profiling forward pass (vLLM's default ``max_num_batched_tokens`` on servers)."""
DOWNLOAD_MIB_PER_S = 250
"""Assumed Hugging Face download throughput for a cold start."""
LOAD_MIB_PER_S = 1000
"""Assumed local read throughput when loading weights into each GPU."""
ENGINE_INIT_SECONDS = 180
"""Engine start-up besides weights: torch.compile, CUDA graph capture, KV cache allocation."""
MIN_STARTUP_SECONDS = 600
QUANTIZED_BYTES = {"awq": 0.5625, "gptq": 0.5625, "bitsandbytes": 0.5625, "fp8": 1.0}
"""Bytes per parameter of quantized weights (4-bit formats include group scales)."""
DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0}


def weight_bytes_per_parameter(arch: ModelArchitecture, dtype: str, quantization: str | None) -> float:
    """Bytes each parameter occupies on the GPU."""
    if quantization:
        return QUANTIZED_BYTES[quantization]
    return arch.weight_bytes if dtype == "auto" else DTYPE_BYTES[dtype]


def kv_bytes_per_element(dtype: str, kv_cache_dtype: str) -> float:
    """Bytes per cached K/V element."""
    if kv_cache_dtype == "fp8":
        return 1.0
    return 4.0 if dtype == "float32" else 2.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-GPU memory of one configuration (all sizes in bytes)."""

    gpu: GpuModel
    tensor: int
    pipeline: int
    utilization: float
    weights: float
    overhead: float
    kv_per_token: float
    max_model_len: int
    max_num_seqs: int
    replica_gpus: int

    @property
    def budget(self) -> float:
        """GPU memory vLLM may use: total x gpu_memory_utilization."""
        return self.gpu.memory_mib * MIB * self.utilization

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
    def full_batch_kv(self) -> float:
        """KV bytes per GPU for ``max_num_seqs`` sequences at ``max_model_len`` (worst case)."""
        return self.kv_per_token * self.max_model_len * self.max_num_seqs

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


def estimate(arch: ModelArchitecture, gpu: GpuModel, *, tensor: int, pipeline: int, dtype: str,
             quantization: str | None, kv_cache_dtype: str, max_model_len: int, max_num_seqs: int,
             utilization: float) -> MemoryEstimate:
    """Memory per GPU for serving ``arch`` on ``gpu`` with TP x PP."""
    shards = tensor * pipeline
    weights = arch.parameters * weight_bytes_per_parameter(arch, dtype, quantization) / shards
    activation_bytes = 4.0 if dtype == "float32" else 2.0
    activations = BATCHED_TOKENS * (arch.hidden_size + 2 * arch.intermediate_size / tensor) * activation_bytes
    logits = max_num_seqs * arch.vocab_size * 4.0
    overhead = RUNTIME_OVERHEAD_GIB * GIB_BYTES + activations + logits
    kv = kv_bytes_per_token(arch, tensor, pipeline, kv_bytes_per_element(dtype, kv_cache_dtype))
    return MemoryEstimate(gpu, tensor, pipeline, utilization, weights, overhead, kv, max_model_len, max_num_seqs,
                          shards)


def startup_seconds(arch: ModelArchitecture, *, dtype: str, quantization: str | None, gpus: int,
                    downloads: bool) -> int:
    """Cold-start budget: download (unless the cache is pre-populated), load each GPU's share,
    engine initialisation; rounded up to a minute, at least 10 minutes."""
    total = arch.parameters * weight_bytes_per_parameter(arch, dtype, quantization)
    seconds = ENGINE_INIT_SECONDS + total / gpus / (LOAD_MIB_PER_S * MIB)
    if downloads:
        seconds += total / (DOWNLOAD_MIB_PER_S * MIB)
    return max(MIN_STARTUP_SECONDS, math.ceil(seconds / 60) * 60)


def gib(value: float) -> str:
    """``1.5 GiB`` formatting used in messages."""
    return f"{value / GIB_BYTES:.1f} GiB"
