"""What LoRA adapters take: vLLM allocates, for every linear layer of the model, stacked A and B
buffers for ``max_loras`` adapters of ``max_lora_rank`` on each GPU when it loads the model
(vllm/lora/layers/base_linear.py), and keeps up to ``max_cpu_loras`` adapters in host memory."""

from __future__ import annotations

from vllm_infra.catalog.architectures import ModelArchitecture

LORA_ELEMENT_BYTES = 2.0
"""Adapters in the model's 16-bit dtype (``lora_dtype: auto``)."""


def lora_slot_elements(arch: ModelArchitecture, tensor: int, rank: int) -> float:
    """Elements of one adapter slot on one GPU, over the attention and MLP projections of every
    layer. Column-parallel layers (qkv: 3 slices, gate_up: 2) keep A over the whole input and B
    over their output shard; row-parallel ones (o, down) A over their input shard, B over the
    whole output."""
    hidden = arch.hidden_size
    query, kv = arch.attention_heads * arch.head_dim, arch.kv_heads * arch.head_dim
    intermediate = arch.intermediate_size
    column = 3 * hidden + (query + 2 * kv) / tensor + 2 * hidden + 2 * intermediate / tensor
    row = query / tensor + hidden + intermediate / tensor + hidden
    return float(rank * (column + row) * arch.layers)


def lora_gpu_bytes(arch: ModelArchitecture, tensor: int, max_loras: int, max_rank: int) -> float:
    """GPU memory of the adapter slots, per GPU."""
    return max_loras * lora_slot_elements(arch, tensor, max_rank) * LORA_ELEMENT_BYTES


def lora_host_bytes(arch: ModelArchitecture, max_cpu_loras: int, max_rank: int) -> float:
    """Host memory of the CPU adapter cache of one pod (whole adapters, every shard)."""
    return max_cpu_loras * lora_slot_elements(arch, 1, max_rank) * LORA_ELEMENT_BYTES
