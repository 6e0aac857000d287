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

from vllm_infra.capacity.lora import lora_gpu_bytes
from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuModel
from vllm_infra.catalog.quantization import (
    ONLINE_WEIGHT_BYTES,
    effective_quantization,
    mxfp4_padding,
    quantization_family,
)
from vllm_infra.catalog.vllm import (
    CHUNKED_LOCAL_FULL_KV_SINCE,
    FLASHINFER_SAMPLER_SINCE,
    GRAPHS_IN_BUDGET_SINCE,
    HYBRID_KV_SINCE,
    REPORTED_BY_CONCURRENCY_SINCE,
    V1_ENGINE_SINCE,
    SchedulerDefaults,
    VllmVersion,
    scheduler_defaults,
)
from vllm_infra.vocabulary.units import GIB_BYTES

DTYPE_BYTES = {"bfloat16": 2.0, "float16": 2.0, "float32": 4.0}
FP8_FORMATS = frozenset({"fp8"})
"""Quantizations and KV-cache dtypes that need an fp8-capable GPU."""

SAMPLER_BYTES_PER_ELEMENT = 39.0
"""The V1 profiling peak is the sampler warm-up over ``max_num_seqs x vocab``: 38.4-39.6 bytes per
element in the peaks vLLM logged for Llama-3.1-8B, Llama-3.3-70B-FP8, Qwen3-32B and Qwen3-0.6B
(the sampler alone replays at 36-37 on an H200; the rest is the logits it samples from)."""
FLASHINFER_SAMPLER_BYTES_PER_ELEMENT = 8.0
"""From 0.21 vLLM samples top-k/top-p with FlashInfer on NVIDIA GPUs by default
(``VLLM_USE_FLASHINFER_SAMPLER``), which sorts nothing: the warm-up holds the fp32 logits and
their probabilities (the in-budget overhead then implied by real start-ups is 0.6-1.0 GiB)."""
ENCODER_PROFILE_BYTES = 0.67 * GIB_BYTES
"""A multimodal model's profiling pass also runs its encoder on the largest inputs: 0.67 GiB more
in-budget overhead than the text model's, in the start-ups measured."""
NON_TORCH_BYTES = {False: 0.15 * GIB_BYTES, True: 0.55 * GIB_BYTES}
"""Non-torch memory (NCCL, cuBLAS workspaces) by whether TP > 1: logged 0.13-0.14 GiB on one GPU,
0.54-0.55 GiB with TP=2."""
CUDA_CONTEXT_BYTES = int(0.5 * GIB_BYTES)
"""The CUDA context of each worker process, never in vLLM's budget."""
GRAPH_BYTES_PER_LAYER = {False: 0.0172 * GIB_BYTES, True: 0.0385 * GIB_BYTES}
"""CUDA graphs per GPU and layer (of one pipeline stage), by whether TP > 1: with tensor
parallelism every captured graph also registers its all-reduce buffers for vLLM's custom
all-reduce, whatever the TP degree. TP=1: 0.5-0.65 GiB for an 8B model (32 layers). TP>1:
2.41 GiB per GPU for Yi-1.5-34B (60 layers) at TP=4 (V0; the difference --enforce-eager made),
3.45 GiB for Qwen3-235B-A22B-FP8 (94 layers) at TP=8 (V1), and more than 1.71 GiB for
Qwen3-30B-A3B (48 layers) at TP=4, whose capture ran out of memory with 2.21 GiB outside the
budget; 0.0401 and 0.0367 GiB per layer for the two measured, their mean taken."""
ROCM_GRAPH_FACTOR = 6.5
"""On an MI300X (HIP graphs) the capture took 3.9 GiB where the CUDA term gives 0.6 (TP=1)."""
DEFAULT_BLOCK_SIZE = 16
"""Tokens per KV-cache block (vLLM's default ``--block-size`` on CUDA)."""
V0_CHUNKED_PREFILL_ABOVE = 32768
"""V0 turns chunked prefill on by default above this ``max_model_len`` and then batches 2048 tokens."""
FIT_MARGIN = 1.1
"""A deployment "fits" when its KV cache holds 1.1 x max_model_len tokens (or 1 GiB spare):
estimates are calibrated to a few percent, so less is reported as tight."""
FIT_SPARE_BYTES = GIB_BYTES


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def unquantized_bytes(arch: ModelArchitecture, dtype: str) -> float:
    """Bytes per weight kept in the model's own precision (or the ``--dtype`` cast)."""
    return (4.0 if arch.weight_bytes == 4.0 else 2.0) if dtype == "auto" else DTYPE_BYTES[dtype]


def sizing_gap(arch: ModelArchitecture, quantization: str | None) -> str | None:
    """Why the weights of ``arch`` served with ``quantization`` cannot be sized (None: they can)."""
    quantization = effective_quantization(quantization, arch.quantization)
    if quantization is None:
        return None
    if arch.quantization and quantization_family(arch.quantization) == quantization_family(quantization):
        if arch.quantized_weight_bytes is None and not arch.checkpoint_bytes:
            return f"the size of {arch.quantization} weights is not modelled"
        return None
    if quantization_family(quantization) not in ONLINE_WEIGHT_BYTES:
        return f"the size of {quantization} weights is not modelled"
    return None


def served_weights_bytes(arch: ModelArchitecture, dtype: str, quantization: str | None) -> float:
    """The model's weights as vLLM holds them, all GPUs together. A checkpoint served in its own
    format weighs what it stores (``checkpoint_bytes`` when known, else its quantized parameters
    at their bytes and the rest in 16 bits); a format named only by the flag quantizes all but the
    embeddings, lm_head and encoder; otherwise parameters x bytes, embeddings kept in 16 bits when
    ``weight_bytes`` says the checkpoint is smaller."""
    kept = unquantized_bytes(arch, dtype)
    quantization = effective_quantization(quantization, arch.quantization)
    family = quantization_family(quantization) if quantization else None
    if arch.quantization and family == quantization_family(arch.quantization):
        if arch.checkpoint_bytes and dtype == "auto":
            return arch.checkpoint_bytes
        quantized = arch.stored_quantized_parameters
        return quantized * (arch.quantized_weight_bytes or kept) + (arch.parameters - quantized) * kept
    if family is not None:
        quantized = max(0.0, arch.parameters - arch.embedding_parameters - arch.encoder_parameters)
        return quantized * ONLINE_WEIGHT_BYTES[family] + (arch.parameters - quantized) * kept
    if arch.checkpoint_bytes and dtype == "auto":
        return arch.checkpoint_bytes
    per_parameter = arch.weight_bytes if dtype == "auto" else DTYPE_BYTES[dtype]
    total = arch.parameters * per_parameter
    if per_parameter < 2.0:
        total += arch.embedding_parameters * (2.0 - per_parameter)
    return total


def kv_bytes_per_element(dtype: str, kv_cache_dtype: str) -> float:
    """Bytes per cached K/V element."""
    if kv_cache_dtype in FP8_FORMATS:
        return 1.0
    return 4.0 if dtype == "float32" else 2.0


@dataclass(frozen=True)
class KvLayout:
    """How vLLM's KV-cache manager lays out one GPU's cache: layers of each attention kind in
    groups of equal size (the smaller kind's count), each group taking one block of the shared
    pool per block of tokens. A request holds ``max_model_len`` tokens in a full-attention group,
    and in a local-attention (sliding-window or chunked) group only the window plus the tokens
    scheduled at once (``max_memory_usage_bytes`` of each spec in vllm/v1/kv_cache_interface.py)."""

    layer_token_bytes: float
    """Bytes one token occupies in one layer on one GPU."""
    full_layers: int
    local_layers: int = 0
    """Local layers the manager keeps apart (0: none, or all counted as full)."""
    window: int = 0

    @property
    def group_size(self) -> int:
        """Layers per group."""
        return min(count for count in (self.full_layers, self.local_layers) if count) if self.layers else 1

    @property
    def layers(self) -> int:
        return self.full_layers + self.local_layers

    @property
    def groups(self) -> tuple[int, int]:
        """(full-attention groups, local-attention groups)."""
        size = self.group_size
        return math.ceil(self.full_layers / size), math.ceil(self.local_layers / size)

    def block_bytes(self, block_size: int) -> float:
        """Bytes of one block of the pool: a block of tokens in each layer of a group."""
        return self.layer_token_bytes * block_size * self.group_size

    def blocks_per_request(self, tokens: int, block_size: int, batched_tokens: int) -> int:
        """Blocks one request of ``tokens`` holds at most."""
        full, local = self.groups
        window = min(self.window - 1 + batched_tokens, tokens)
        return full * math.ceil(tokens / block_size) + local * (math.ceil(window / block_size) + 1)


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
    """The quantization vLLM runs (``effective_quantization``)."""
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
    hybrid_kv: bool = True
    """The hybrid KV-cache manager may run (vLLM turns it off for KV connectors and KV events)."""
    lora_slots: int = 0
    """``--max-loras`` with ``--enable-lora`` (0: LoRA off)."""
    lora_rank: int = 0
    """``--max-lora-rank`` of the slots."""

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
        """The model's weights as served, all GPUs together (see ``served_weights_bytes``), MXFP4
        experts padded as the kernel vLLM picks on this GPU pads them."""
        arch, total = self.arch, served_weights_bytes(self.arch, self.dtype, self.quantization)
        if arch.quantization != "mxfp4" or not arch.quantized_weight_bytes:
            return total
        hidden_multiple, intermediate_multiple = mxfp4_padding(self.gpu.type.value, self.gpu.vendor)
        share = arch.intermediate_size / self.tensor
        padded = (_round_up(arch.hidden_size, hidden_multiple) * _round_up(math.ceil(share), intermediate_multiple) /
                  (arch.hidden_size * share))
        return total + arch.stored_quantized_parameters * arch.quantized_weight_bytes * (padded - 1)


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-GPU memory of one configuration (all sizes in bytes)."""

    settings: ServingSettings
    weights: float
    non_torch: float
    activation: float
    graphs: float
    kv: KvLayout

    @property
    def gpu(self) -> GpuModel:
        """The GPU the estimate is for."""
        return self.settings.gpu

    @property
    def max_model_len(self) -> int:
        """Context length the estimate must hold."""
        return self.settings.max_model_len

    @property
    def kv_per_token(self) -> float:
        """KV bytes per token and GPU, counting every layer (what a full-attention model holds)."""
        return self.kv.layer_token_bytes * self.kv.layers

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
    def kv_blocks(self) -> int:
        """Blocks in the KV-cache pool."""
        block = self.kv.block_bytes(self.settings.block_size)
        return max(0, math.floor(self.kv_space / block)) if block else 0

    def blocks_for(self, tokens: int) -> int:
        """Blocks one request of ``tokens`` holds."""
        return self.kv.blocks_per_request(tokens, self.settings.block_size, self.settings.batched_tokens)

    @cached_property
    def kv_capacity(self) -> int:
        """Tokens the KV cache holds, as vLLM logs them: whole blocks per group, and from 0.20.2 the
        tokens of as many full-length requests as fit (more than that for local attention)."""
        full, local = self.kv.groups
        if local and self.settings.version >= REPORTED_BY_CONCURRENCY_SINCE:
            return int(self.kv_blocks / self.blocks_for(self.max_model_len) * self.max_model_len)
        return self.kv_blocks // (full + local) * self.settings.block_size

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
        needed = self.blocks_for(self.max_model_len)
        if not self.weights_fit or self.kv_blocks < needed:
            return Verdict.TOO_SMALL
        if self.headroom < self.headroom_needed:
            return Verdict.NO_HEADROOM
        spare = self.kv_space - needed * self.kv.block_bytes(self.settings.block_size)
        if self.kv_blocks >= FIT_MARGIN * needed or spare >= FIT_SPARE_BYTES:
            return Verdict.FITS
        return Verdict.TIGHT

    @property
    def fits(self) -> bool:
        """vLLM starts and keeps running (tight counts): the hard requirement."""
        return self.verdict in (Verdict.FITS, Verdict.TIGHT)

    @property
    def full_length_sequences(self) -> float:
        """Requests of ``max_model_len`` tokens the KV cache holds at once."""
        return self.kv_blocks / self.blocks_for(self.max_model_len)

    @property
    def longest_context(self) -> int:
        """Largest ``max_model_len`` that fits with the margin, a multiple of 1024 (0: none)."""
        low, high = 0, max(1, self.settings.arch.context_length) // 1024
        while low < high:
            middle = (low + high + 1) // 2
            if FIT_MARGIN * self.blocks_for(middle * 1024) <= self.kv_blocks:
                low = middle
            else:
                high = middle - 1
        return low * 1024


def kv_layout(settings: ServingSettings, element_bytes: float) -> KvLayout:
    """The KV cache of one GPU: the layers of one pipeline stage, KV heads split by TP (latent
    attention is not split), local layers kept apart when the hybrid manager runs."""
    arch = settings.arch
    layers = math.ceil(arch.kv_layers / settings.pipeline)
    if arch.kv_latent_dim:
        per_layer = arch.kv_latent_dim * element_bytes
    else:
        per_layer = 2 * max(1, arch.kv_heads // settings.tensor) * arch.head_dim * element_bytes
    if not (arch.local_layers and arch.sliding_window and settings.hybrid_kv and
            settings.version >= HYBRID_KV_SINCE and not (
                arch.chunked_local_attention and settings.version >= CHUNKED_LOCAL_FULL_KV_SINCE)):
        return KvLayout(per_layer, layers)
    local = round(arch.local_layers * layers / arch.kv_layers)
    return KvLayout(per_layer, layers - local, local, arch.sliding_window)


def forward_activation_bytes(arch: ModelArchitecture, tokens: int, tensor: int, dtype: str) -> float:
    """Peak activations of one forward pass over ``tokens`` (hidden state plus the MLP's
    intermediate, split by TP)."""
    element = 4.0 if dtype == "float32" else 2.0
    return tokens * (arch.hidden_size + 2 * arch.intermediate_size / tensor) * element


def cuda_graph_bytes(arch: ModelArchitecture, tensor: int, pipeline: int, *, rocm: bool = False) -> float:
    """CUDA-graph memory per GPU for the layers of one pipeline stage (see GRAPH_BYTES_PER_LAYER)."""
    graphs = GRAPH_BYTES_PER_LAYER[tensor > 1] * math.ceil(arch.layers / pipeline)
    return float(graphs * (ROCM_GRAPH_FACTOR if rocm else 1.0))


def estimate(settings: ServingSettings) -> MemoryEstimate:
    """Memory per GPU for serving ``settings.arch`` on ``settings.gpu`` with TP x PP (LoRA slots
    count as weights: vLLM allocates them as it loads the model). V1 profiles
    the larger of a forward pass over the batched tokens and the sampler warm-up (plus the encoder
    of a multimodal model); V0 keeps both."""
    arch, tensor = settings.arch, settings.tensor
    v1 = settings.version >= V1_ENGINE_SINCE
    weights = settings.weights_bytes / (tensor * settings.pipeline)
    if settings.lora_slots:
        weights += lora_gpu_bytes(arch, tensor, settings.lora_slots, settings.lora_rank) / settings.pipeline
    forward = forward_activation_bytes(arch, settings.batched_tokens, tensor, settings.dtype)
    flashinfer = settings.version >= FLASHINFER_SAMPLER_SINCE and settings.gpu.vendor == "nvidia"
    sampler = (FLASHINFER_SAMPLER_BYTES_PER_ELEMENT if flashinfer else SAMPLER_BYTES_PER_ELEMENT) * \
        settings.sequences * arch.vocab_size
    activation = (max(forward, sampler) if v1 else forward + sampler) + (
        ENCODER_PROFILE_BYTES if arch.encoder_parameters else 0.0)
    graphs = 0.0 if settings.enforce_eager else cuda_graph_bytes(arch, tensor, settings.pipeline,
                                                                 rocm=settings.gpu.vendor == "amd")
    kv = kv_layout(settings, kv_bytes_per_element(settings.dtype, settings.kv_cache_dtype))
    return MemoryEstimate(settings, weights, NON_TORCH_BYTES[tensor * settings.pipeline > 1], activation, graphs,
                          kv)
