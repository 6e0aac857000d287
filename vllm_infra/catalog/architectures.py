"""Architecture facts of popular open models (from each model's Hugging Face ``config.json``),
enough to size weights and KV cache. Extend it inline in a spec or from a local config.json."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ModelArchitecture:
    """What memory sizing needs to know about a model."""

    parameters: float
    """Total parameters (all experts for MoE models), e.g. 70.6e9."""
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    context_length: int
    """``max_position_embeddings``: the longest context the model supports."""
    weight_bytes: float = 2.0
    """Bytes per parameter of the released checkpoint (2 for bf16, 1 for fp8)."""
    active_parameters: float | None = None
    """Parameters used per token for mixture-of-experts models."""
    kv_latent_dim: int | None = None
    """Multi-head latent attention (DeepSeek): cached elements per token and layer (kv_lora_rank +
    qk_rope_head_dim), replacing 2 x kv_heads x head_dim and not split by tensor parallelism."""
    tied_embeddings: bool = False
    """``tie_word_embeddings``: the input embedding doubles as the lm_head."""
    checkpoint_bytes: float | None = None
    """``total_size`` of the checkpoint's ``model.safetensors.index.json`` when known: its weights
    as stored, including tensors kept unquantized."""

    @property
    def embedding_parameters(self) -> float:
        """Parameters of the input embedding and lm_head (one matrix when tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2)

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any], parameters: float | None = None,
                       checkpoint_bytes: float | None = None) -> ModelArchitecture:
        """Read a Hugging Face ``config.json`` (and the checkpoint's size, when known). Dense and
        Mixtral/Qwen-style MoE parameter counts are estimated from the shapes when ``parameters``
        is not given."""
        text = config.get("text_config", config)
        hidden = int(text["hidden_size"])
        heads = int(text["num_attention_heads"])
        kv_heads = int(text.get("num_key_value_heads") or heads)
        head_dim = int(text.get("head_dim") or hidden // heads)
        layers = int(text["num_hidden_layers"])
        vocab = int(text["vocab_size"])
        intermediate = int(text.get("intermediate_size") or 4 * hidden)
        experts = int(text.get("num_local_experts") or text.get("num_experts") or 0)
        expert_size = int(text.get("moe_intermediate_size") or intermediate)
        latent = None
        if text.get("kv_lora_rank"):
            latent = int(text["kv_lora_rank"]) + int(text.get("qk_rope_head_dim", 0))
        attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
        per_expert = 3 * hidden * expert_size
        mlp = per_expert * experts if experts else 3 * hidden * intermediate
        embeddings = vocab * hidden * (1 if text.get("tie_word_embeddings") else 2)
        estimated = layers * (attention + mlp) + embeddings
        active = None
        if experts:
            used = int(text.get("num_experts_per_tok") or 2)
            active = float(layers * (attention + per_expert * used) + embeddings)
        dtype = str(config.get("torch_dtype") or text.get("torch_dtype") or "bfloat16")
        quant = config.get("quantization_config") or {}
        weight_bytes = 1.0 if quant.get("quant_method") == "fp8" else (4.0 if dtype == "float32" else 2.0)
        return cls(parameters=float(parameters or estimated), layers=layers, attention_heads=heads, kv_heads=kv_heads,
                   head_dim=head_dim, hidden_size=hidden, intermediate_size=intermediate, vocab_size=vocab,
                   context_length=int(text.get("max_position_embeddings") or 4096), weight_bytes=weight_bytes,
                   active_parameters=active, kv_latent_dim=latent,
                   tied_embeddings=bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
                   checkpoint_bytes=checkpoint_bytes)


_LLAMA_70B = ModelArchitecture(70.55e9, 80, 64, 8, 128, 8192, 28672, 128256, 131072)

MODEL_CATALOG: MappingProxyType[str, ModelArchitecture] = MappingProxyType({
    "meta-llama/Llama-3.2-3B-Instruct": ModelArchitecture(3.21e9, 28, 24, 8, 128, 3072, 8192, 128256, 131072,
                                                          tied_embeddings=True),
    "meta-llama/Llama-3.1-8B-Instruct": ModelArchitecture(8.03e9, 32, 32, 8, 128, 4096, 14336, 128256, 131072),
    "meta-llama/Llama-3.1-70B-Instruct": _LLAMA_70B,
    "meta-llama/Llama-3.3-70B-Instruct": _LLAMA_70B,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": _LLAMA_70B,
    "meta-llama/Llama-3.1-405B-Instruct": ModelArchitecture(405.85e9, 126, 128, 8, 128, 16384, 53248, 128256,
                                                            131072),
    "Qwen/Qwen2.5-7B-Instruct": ModelArchitecture(7.62e9, 28, 28, 4, 128, 3584, 18944, 152064, 32768),
    "Qwen/Qwen2.5-32B-Instruct": ModelArchitecture(32.76e9, 64, 40, 8, 128, 5120, 27648, 152064, 32768),
    "Qwen/Qwen2.5-72B-Instruct": ModelArchitecture(72.71e9, 80, 64, 8, 128, 8192, 29568, 152064, 32768),
    "Qwen/Qwen3-8B": ModelArchitecture(8.19e9, 36, 32, 8, 128, 4096, 12288, 151936, 40960),
    "Qwen/Qwen3-32B": ModelArchitecture(32.76e9, 64, 64, 8, 128, 5120, 25600, 151936, 40960),
    "Qwen/Qwen3-30B-A3B": ModelArchitecture(30.53e9, 48, 32, 4, 128, 2048, 6144, 151936, 40960,
                                            active_parameters=3.3e9),
    "mistralai/Mistral-7B-Instruct-v0.3": ModelArchitecture(7.25e9, 32, 32, 8, 128, 4096, 14336, 32768, 32768),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": ModelArchitecture(46.7e9, 32, 32, 8, 128, 4096, 14336, 32000, 32768,
                                                              active_parameters=12.9e9),
    "google/gemma-2-9b-it": ModelArchitecture(9.24e9, 42, 16, 8, 256, 3584, 14336, 256000, 8192,
                                              tied_embeddings=True),
    "google/gemma-3-27b-it": ModelArchitecture(27.43e9, 62, 32, 16, 128, 5376, 21504, 262208, 131072,
                                               tied_embeddings=True),
    "deepseek-ai/DeepSeek-V3": ModelArchitecture(671e9, 61, 128, 128, 128, 7168, 18432, 129280, 163840,
                                                 weight_bytes=1.0, active_parameters=37e9, kv_latent_dim=576),
})
"""Known architectures by Hugging Face repository id. Gemma 3's sliding-window layers need less
KV cache than estimated here; the estimate errs on the safe side."""
