"""Architecture facts from a Hugging Face ``config.json``, read the way vLLM's model classes read
it: the text model of a multimodal config, MoE experts (Mixtral, Qwen, DeepSeek, Llama 4,
gpt-oss), multi-head latent attention, sliding-window and chunked local attention layers
(``layer_types``, Gemma's patterns, Llama 4's ``no_rope_layers``), layers sharing another's KV
cache, per-layer embeddings, vision and audio encoders, and the checkpoint's quantization."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.quantization import checkpoint_quantization

LOCAL_LAYER_TYPES = frozenset({"sliding_attention", "chunked_attention"})
STATE_LAYER_TYPES = frozenset({"linear_attention", "mamba", "mamba2", "ssm"})
"""Layer kinds whose cache is a fixed state per sequence (Qwen3-Next's gated DeltaNet, Mamba)."""
GEMMA3_PATTERN = 6
"""Gemma 3: five sliding-window layers, then one global (``sliding_window_pattern``)."""
LLAMA4_NO_ROPE_INTERVAL = 4
"""Llama 4: every fourth layer attends globally without RoPE; the others in chunks."""


class UnsizedArchitecture(ValueError):
    """A config whose memory the estimate does not model."""


def _int(section: Mapping[str, Any], *keys: str, default: int = 0) -> int:
    for key in keys:
        value = section.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return default


def _encoder_parameters(config: Mapping[str, Any], text_hidden: int) -> float:
    """A transformer encoder (vision or audio tower) with its projector into the text model."""
    total = 0.0
    for key in ("vision_config", "audio_config"):
        encoder = config.get(key)
        if not isinstance(encoder, Mapping):
            continue
        hidden = _int(encoder, "hidden_size", "width", "embed_dim", "d_model")
        layers = _int(encoder, "num_hidden_layers", "depth", "num_layers", "encoder_layers")
        intermediate = _int(encoder, "intermediate_size", "encoder_ffn_dim", default=4 * hidden)
        total += layers * (4 * hidden * hidden + 2 * hidden * intermediate) + hidden * text_hidden
    return total


def _attention_parameters(text: Mapping[str, Any], hidden: int, heads: int, kv_heads: int, head_dim: int) -> int:
    if text.get("kv_lora_rank"):  # multi-head latent attention (DeepSeek V2/V3)
        rope, nope = _int(text, "qk_rope_head_dim"), _int(text, "qk_nope_head_dim")
        value, latent, q_rank = _int(text, "v_head_dim", default=nope), _int(text, "kv_lora_rank"), \
            _int(text, "q_lora_rank")
        query = (hidden * q_rank + q_rank * heads * (nope + rope)) if q_rank else hidden * heads * (nope + rope)
        return query + hidden * (latent + rope) + latent * heads * (nope + value) + heads * value * hidden
    return hidden * head_dim * (2 * heads + 2 * kv_heads)


def _local_layers(config: Mapping[str, Any], text: Mapping[str, Any], layers: int) -> tuple[int, int | None, bool]:
    """(local layers, their window, chunked) as vLLM's model classes assign them."""
    types = text.get("layer_types") or config.get("layer_types")
    window = _int(text, "sliding_window") or None
    if isinstance(types, list) and types:
        stateful = sum(1 for kind in types if kind in STATE_LAYER_TYPES)
        if stateful:
            raise UnsizedArchitecture(f"{stateful} of {len(types)} layers keep a per-sequence state (linear "
                                      "attention or Mamba), which the memory estimate does not model")
        chunked = "chunked_attention" in types
        return sum(1 for kind in types if kind in LOCAL_LAYER_TYPES), \
            _int(text, "attention_chunk_size") or window if chunked else window, chunked
    model_type = str(text.get("model_type") or config.get("model_type") or "")
    if text.get("attention_chunk_size"):  # Llama 4: RoPE layers attend in chunks
        rope_layers = text.get("no_rope_layers")
        local = sum(1 for flag in rope_layers if flag) if isinstance(rope_layers, list) and rope_layers else \
            layers - layers // LLAMA4_NO_ROPE_INTERVAL
        return local, _int(text, "attention_chunk_size"), True
    if window is None or text.get("use_sliding_window") is False:
        return 0, None, False
    if model_type.startswith("gemma3"):
        pattern = _int(text, "sliding_window_pattern", default=GEMMA3_PATTERN)
        return layers - layers // pattern, window, False
    if model_type.startswith("gemma2"):
        return math.ceil(layers / 2), window, False
    return layers, window, False  # every layer slides (Mistral 7B v0.1)


def architecture_from_hf_config(config: Mapping[str, Any], parameters: float | None = None,
                                checkpoint_bytes: float | None = None) -> ModelArchitecture:
    """Read a Hugging Face ``config.json`` (and the checkpoint's size, when known). Parameter counts
    are estimated from the shapes when ``parameters`` is not given. Raises ``KeyError`` for a
    config without the text model's shapes and ``UnsizedArchitecture`` for one the estimate does
    not model."""
    text = config.get("text_config") or config
    hidden = int(text["hidden_size"])
    heads = int(text["num_attention_heads"])
    kv_heads = _int(text, "num_key_value_heads", default=heads) or heads
    head_dim = _int(text, "head_dim") or hidden // heads
    layers = int(text["num_hidden_layers"])
    vocab = int(text.get("vocab_size") or config["vocab_size"])
    dense_size = _int(text, "intermediate_size_mlp", "intermediate_size", default=4 * hidden)
    experts = _int(text, "num_local_experts", "num_experts", "n_routed_experts")
    expert_size = _int(text, "moe_intermediate_size", "intermediate_size", default=dense_size)
    used = _int(text, "num_experts_per_tok", "experts_per_token", default=2)
    shared = _int(text, "n_shared_experts") * expert_size + _int(text, "shared_expert_intermediate_size")
    if experts and text.get("model_type") == "llama4_text":
        shared = expert_size  # one shared expert beside the routed ones
    step = _int(text, "interleave_moe_layer_step", default=1) or 1
    dense_layers = _int(text, "first_k_dense_replace")
    moe_layers = (layers - dense_layers) // step if experts else 0
    attention = _attention_parameters(text, hidden, heads, kv_heads, head_dim)
    expert_parameters = float(moe_layers * experts * 3 * hidden * expert_size)
    mlp = (layers - moe_layers) * 3 * hidden * dense_size + expert_parameters + moe_layers * 3 * hidden * shared
    tied = bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False)))
    embeddings = vocab * hidden * (1 if tied else 2)
    per_layer = _int(text, "vocab_size_per_layer_input") * _int(text, "hidden_size_per_layer_input") * layers
    encoder = _encoder_parameters(config, hidden)
    estimated = layers * attention + mlp + embeddings + per_layer + encoder
    active = None
    if experts:
        active = float(estimated - expert_parameters * (1 - used / experts) - encoder)
    local, window, chunked = _local_layers(config, text, layers)
    context = _int(text, "max_position_embeddings", default=4096)
    if window is not None and window >= context:
        local, window = 0, None  # a window as long as the context saves nothing
    quantization = checkpoint_quantization(config)
    latent = _int(text, "kv_lora_rank") + _int(text, "qk_rope_head_dim") if text.get("kv_lora_rank") else None
    dtype = str(config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype") or "bfloat16")
    return ModelArchitecture(
        parameters=float(parameters or estimated), layers=layers, attention_heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, hidden_size=hidden, intermediate_size=dense_size, vocab_size=vocab,
        context_length=context, weight_bytes=4.0 if dtype == "float32" else 2.0, active_parameters=active,
        kv_latent_dim=latent, tied_embeddings=tied, checkpoint_bytes=checkpoint_bytes,
        quantization=quantization.method if quantization else None,
        quantized_weight_bytes=quantization.weight_bytes if quantization else None,
        quantized_parameters=expert_parameters if quantization and quantization.experts_only else None,
        encoder_parameters=encoder, per_layer_embedding_parameters=per_layer, sliding_window=window, local_layers=local,
        chunked_local_attention=chunked and local > 0, kv_shared_layers=_int(text, "num_kv_shared_layers"))


def read_model_config(config_path: Path, parameters: float | None = None) -> ModelArchitecture:
    """A downloaded model's ``config.json``, with the ``model.safetensors.index.json`` beside it
    for the checkpoint's size when present. Raises ``OSError``, ``ValueError`` (bad JSON, or
    ``UnsizedArchitecture``), ``KeyError`` and ``TypeError`` for what cannot be read."""
    config = json.loads(config_path.read_text())
    index = config_path.with_name("model.safetensors.index.json")
    total = json.loads(index.read_text()).get("metadata", {}).get("total_size") if index.is_file() else None
    return architecture_from_hf_config(config, parameters, float(total) if total else None)
