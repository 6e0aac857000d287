"""Memory per GPU the way vLLM accounts for it at start-up, by release: weights, non-torch memory
and the profiling peak inside ``usable x gpu_memory_utilization``, the KV cache in what is left
(whole blocks), and the CUDA context and graphs in the memory the budget leaves free (inside the
budget from 0.21).

vLLM refuses to start when the KV cache cannot hold one ``max_model_len`` sequence, and runs out
of memory after allocating the KV cache when the free memory cannot hold the CUDA context and
graphs. "Fits" asks for a margin beyond the first (see ``Verdict``). Every constant below was
measured on real start-ups; ``benchmarks/capacity.py`` replays the calibration runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.catalog.vllm import (
    GRAPHS_IN_BUDGET_SINCE,
    V1_ENGINE_SINCE,
    SchedulerDefaults,
    VllmVersion,
    scheduler_defaults,
)
from vllm_infra.vocabulary.units import GIB_BYTES

QUANTIZED_BYTES = {"awq": 0.5625, "gptq": 0.5625, "bitsandbytes": 0.5625, "fp8": 1.0}
"""Bytes per parameter of quantized weights (4-bit formats include group scales)."""
DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0}
FP8_FORMATS = frozenset({"fp8"})
"""Quantizations and KV-cache dtypes that need an fp8-capable GPU."""

SAMPLER_BYTES_PER_ELEMENT = 39.0
"""The V1 profiling peak is the sampler warm-up over ``max_num_seqs x vocab``: 38.4-39.6 bytes per
element in the peaks vLLM logged for Llama-3.1-8B, Llama-3.3-70B-FP8, Qwen3-32B and Qwen3-0.6B
(the sampler alone replays at 36-37 on an H200; the rest is the logits it samples from)."""
NON_TORCH_BYTES = {False: 0.15 * GIB_BYTES, True: 0.55 * GIB_BYTES}
"""Non-torch memory (NCCL, cuBLAS workspaces) by whether TP > 1: logged 0.13-0.14 GiB on one GPU,
0.54-0.55 GiB with TP=2."""
CUDA_CONTEXT_BYTES = int(0.5 * GIB_BYTES)
"""The CUDA context of each worker process, never in vLLM's budget."""
GRAPH_BYTES_PER_LAYER = 0.0172 * GIB_BYTES
GRAPH_TP_EXPONENT = 0.77
"""CUDA graphs per GPU ~ 0.0172 GiB x layers (of one pipeline stage) x TP^0.77, through the two
measured points: 0.5-0.65 GiB for an 8B model (32 layers) at TP=1, and ~2.4 GiB per GPU for a
34B model at TP=4 (taken as CodeLlama-34B's 48 layers). The TP exponent is the least certain
term: two points, and custom all-reduce buffers registered per captured graph grow with TP."""
DEFAULT_BLOCK_SIZE = 16
"""Tokens per KV-cache block (vLLM's default ``--block-size`` on CUDA)."""
V0_CHUNKED_PREFILL_ABOVE = 32768
"""V0 turns chunked prefill on by default above this ``max_model_len`` and then batches 2048 tokens."""
FIT_MARGIN = 1.1
"""A deployment "fits" when its KV cache holds 1.1 x max_model_len tokens (or 1 GiB spare):
estimates are calibrated to a few percent, so less is reported as tight."""
FIT_SPARE_BYTES = GIB_BYTES


def weight_bytes_per_parameter(arch: ModelArchitecture, dtype: str, quantization: str | None) -> float:
    """Bytes each quantized (or cast) parameter occupies on the GPU."""
    if quantization:
        return QUANTIZED_BYTES[quantization]
    return arch.weight_bytes if dtype == "auto" else DTYPE_BYTES[dtype]


def kv_bytes_per_element(dtype: str, kv_cache_dtype: str) -> float:
    """Bytes per cached K/V element."""
    if kv_cache_dtype in FP8_FORMATS:
        return 1.0
    return 4.0 if dtype == "float32" else 2.0


class Verdict(StrEnum):
    """What the estimate says about starting and serving."""

    FITS = "fits"
    """The KV cache holds >= 1.1 x max_model_len (or 1 GiB beyond it) and the headroom holds."""
    TIGHT = "tight"
    """vLLM should start, but within the estimate's error: 1.0-1.1 x max_model_len."""
    TOO_SMALL = "too-small"
    """The KV cache cannot hold one max_model_len sequence (or the weights do not fit): vLLM refuses."""
    NO_HEADROOM = "no-headroom"
    """The memory outside the budget cannot hold the CUDA context and graphs: OOM after start-up."""


@dataclass(frozen=True)
class ServingSettings:
    """Everything the memory estimate depends on: one model, on one GPU type, configured one way,
    on one vLLM release. ``None`` means the release's default."""

    arch: ModelArchitecture
    gpu: GpuModel
    tensor: int
    pipeline: int
    dtype: str
    quantization: str | None
    kv_cache_dtype: str
    max_model_len: int
    max_num_seqs: int | None
    utilization: float
    version: VllmVersion
    max_num_batched_tokens: int | None = None
    kv_cache_memory_bytes: int | None = None
    """``--kv-cache-memory-bytes``: a fixed KV budget instead of what utilisation leaves."""
    block_size: int = DEFAULT_BLOCK_SIZE
    enforce_eager: bool = False
    """No CUDA graphs (``--enforce-eager``)."""

    @property
    def defaults(self) -> SchedulerDefaults:
        """The release's scheduler defaults on this GPU."""
        return scheduler_defaults(self.version, self.gpu.usable_bytes, self.gpu.type.value)

    @property
    def sequences(self) -> int:
        """``max_num_seqs`` in effect."""
        return self.max_num_seqs or self.defaults.max_num_seqs

    @property
    def batched_tokens(self) -> int:
        """``max_num_batched_tokens`` in effect (V0 without chunked prefill: the whole context)."""
        if self.max_num_batched_tokens:
            return self.max_num_batched_tokens
        if self.version < V1_ENGINE_SINCE:
            return self.max_model_len if self.max_model_len <= V0_CHUNKED_PREFILL_ABOVE else 2048
        return self.defaults.max_num_batched_tokens

    @property
    def weights_bytes(self) -> float:
        """The model's weights as served, all GPUs together: the checkpoint's own size when known and
        served as stored, else parameters x bytes, with embeddings and lm_head kept in 16 bits when
        the other weights are quantized below that."""
        arch = self.arch
        per_parameter = weight_bytes_per_parameter(arch, self.dtype, self.quantization)
        as_stored = self.dtype == "auto" and (self.quantization is None or per_parameter == arch.weight_bytes)
        if arch.checkpoint_bytes and as_stored:
            return arch.checkpoint_bytes
        total = arch.parameters * per_parameter
        if per_parameter < 2.0:
            total += arch.embedding_parameters * (2.0 - per_parameter)
        return total


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-GPU memory of one configuration (all sizes in bytes)."""

    settings: ServingSettings
    weights: float
    non_torch: float
    activation: float
    graphs: float
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
    def usable(self) -> int:
        """What ``torch.cuda.mem_get_info`` reports as the GPU's total."""
        return self.gpu.usable_bytes

    @property
    def budget(self) -> float:
        """GPU memory vLLM may use: usable x gpu_memory_utilization."""
        return self.usable * self.settings.utilization

    @property
    def graphs_in_budget(self) -> bool:
        """Whether the release counts CUDA graphs inside the budget."""
        return self.settings.version >= GRAPHS_IN_BUDGET_SINCE

    @property
    def overhead(self) -> float:
        """In-budget memory besides weights and KV cache: non-torch, profiling peak (and graphs)."""
        return self.non_torch + self.activation + (self.graphs if self.graphs_in_budget else 0.0)

    @property
    def kv_space(self) -> float:
        """Bytes of KV cache (negative when weights alone do not fit)."""
        fixed = self.settings.kv_cache_memory_bytes
        return float(fixed) if fixed else self.budget - self.weights - self.overhead

    @cached_property
    def kv_capacity(self) -> int:
        """Tokens the KV cache of one replica holds, in whole blocks."""
        block = self.settings.block_size * self.kv_per_token
        return max(0, math.floor(self.kv_space / block)) * self.settings.block_size if block else 0

    @property
    def headroom(self) -> float:
        """Memory outside vLLM's accounting after start-up."""
        if self.settings.kv_cache_memory_bytes:
            return self.usable - self.weights - self.overhead - self.kv_space
        return self.usable - self.budget

    @property
    def headroom_needed(self) -> float:
        """What must fit outside the accounting: the CUDA context, and graphs before 0.21."""
        return CUDA_CONTEXT_BYTES + (0.0 if self.graphs_in_budget else self.graphs)

    @property
    def weights_fit(self) -> bool:
        """Weights and overhead fit in the budget."""
        return self.budget - self.weights - self.overhead > 0

    @cached_property
    def verdict(self) -> Verdict:
        """Fits, tight, or why not."""
        if not self.weights_fit or self.kv_capacity < self.max_model_len:
            return Verdict.TOO_SMALL
        if self.headroom < self.headroom_needed:
            return Verdict.NO_HEADROOM
        spare = self.kv_space - self.max_model_len * self.kv_per_token
        if self.kv_capacity >= FIT_MARGIN * self.max_model_len or spare >= FIT_SPARE_BYTES:
            return Verdict.FITS
        return Verdict.TIGHT

    @property
    def fits(self) -> bool:
        """vLLM starts and keeps running (tight counts): the hard requirement."""
        return self.verdict in (Verdict.FITS, Verdict.TIGHT)

    @property
    def full_length_sequences(self) -> float:
        """Sequences of ``max_model_len`` tokens the KV cache holds at once."""
        return self.kv_capacity / self.max_model_len

    @property
    def longest_context(self) -> int:
        """Largest ``max_model_len`` that fits with the margin, rounded down to a multiple of 1024."""
        return int(self.kv_capacity / FIT_MARGIN) // 1024 * 1024


def kv_bytes_per_token(arch: ModelArchitecture, tensor: int, pipeline: int, element_bytes: float) -> float:
    """KV-cache bytes one token occupies on each GPU (layers split by PP, KV heads by TP)."""
    layers = math.ceil(arch.layers / pipeline)
    if arch.kv_latent_dim:
        return layers * arch.kv_latent_dim * element_bytes
    heads = max(1, arch.kv_heads // tensor)
    return 2 * layers * heads * arch.head_dim * element_bytes


def forward_activation_bytes(arch: ModelArchitecture, tokens: int, tensor: int, dtype: str) -> float:
    """Peak activations of one forward pass over ``tokens`` (hidden state plus the MLP's
    intermediate, split by TP)."""
    element = 4.0 if dtype == "float32" else 2.0
    return tokens * (arch.hidden_size + 2 * arch.intermediate_size / tensor) * element


def cuda_graph_bytes(arch: ModelArchitecture, tensor: int, pipeline: int) -> float:
    """CUDA-graph memory per GPU for the layers of one pipeline stage (see GRAPH_BYTES_PER_LAYER)."""
    return float(GRAPH_BYTES_PER_LAYER * math.ceil(arch.layers / pipeline) * tensor ** GRAPH_TP_EXPONENT)


def estimate(settings: ServingSettings) -> MemoryEstimate:
    """Memory per GPU for serving ``settings.arch`` on ``settings.gpu`` with TP x PP. V1 profiles
    the larger of a forward pass over the batched tokens and the sampler warm-up; V0 keeps both."""
    arch, tensor = settings.arch, settings.tensor
    weights = settings.weights_bytes / (tensor * settings.pipeline)
    forward = forward_activation_bytes(arch, settings.batched_tokens, tensor, settings.dtype)
    sampler = SAMPLER_BYTES_PER_ELEMENT * settings.sequences * arch.vocab_size
    activation = max(forward, sampler) if settings.version >= V1_ENGINE_SINCE else forward + sampler
    graphs = 0.0 if settings.enforce_eager else cuda_graph_bytes(arch, tensor, settings.pipeline)
    kv = kv_bytes_per_token(arch, tensor, settings.pipeline, kv_bytes_per_element(settings.dtype,
                                                                                  settings.kv_cache_dtype))
    return MemoryEstimate(settings, weights, NON_TORCH_BYTES[tensor * settings.pipeline > 1], activation, graphs,
                          kv)
