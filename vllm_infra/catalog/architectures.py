"""Architecture facts of popular open models (from each model's Hugging Face ``config.json``),
enough to size weights and KV cache. Extend it inline in a spec or from a local config.json."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

from vllm_infra.catalog.quantization import AWQ_4BIT_G128_BYTES, MXFP4_BYTES


@dataclass(frozen=True)
class ModelArchitecture:
    """What memory sizing needs to know about a model."""

    parameters: float
    """Total parameters (all experts for MoE models, vision towers included), e.g. 70.6e9."""
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
    """Bytes per parameter of the released checkpoint's unquantized weights (2 for bf16); a whole
    checkpoint in fp8 without ``quantization`` says 1."""
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
    quantization: str | None = None
    """The checkpoint's own quantization (``quantization_config.quant_method`` as vLLM names it),
    which vLLM applies without ``--quantization``."""
    quantized_weight_bytes: float | None = None
    """Bytes per quantized weight, scales included (4-bit AWQ with groups of 128: 0.52)."""
    quantized_parameters: float | None = None
    """Parameters stored quantized; default: all but the embeddings, lm_head and encoder (for
    MXFP4 checkpoints: the MoE experts only)."""
    encoder_parameters: float = 0.0
    """Parameters of a vision or audio encoder (part of ``parameters``, kept in 16 bits)."""
    per_layer_embedding_parameters: float = 0.0
    """Per-layer input embeddings (Gemma 3n), part of ``parameters`` and kept in 16 bits."""
    sliding_window: int | None = None
    """Tokens a local-attention layer attends to (sliding window, or Llama 4's attention chunk)."""
    local_layers: int = 0
    """Layers with local attention (sliding window or chunked); the others attend to everything."""
    chunked_local_attention: bool = False
    """Local layers use Llama 4's chunked attention (vLLM keeps their whole KV cache by default)."""
    kv_shared_layers: int = 0
    """Layers that reuse an earlier layer's KV cache and keep none of their own (Gemma 3n)."""

    @property
    def embedding_parameters(self) -> float:
        """Parameters of the embeddings and lm_head (one matrix when tied), per-layer ones included."""
        return self.vocab_size * self.hidden_size * (1 if self.tied_embeddings else 2) + \
            self.per_layer_embedding_parameters

    @property
    def kv_layers(self) -> int:
        """Layers that keep a KV cache."""
        return self.layers - self.kv_shared_layers

    @property
    def stored_quantized_parameters(self) -> float:
        """Parameters the checkpoint stores quantized (see ``quantized_parameters``)."""
        if self.quantized_parameters is not None:
            return self.quantized_parameters
        return max(0.0, self.parameters - self.embedding_parameters - self.encoder_parameters)


def _quantized(base: ModelArchitecture, method: str, weight_bytes: float, parameters: float | None = None,
               context_length: int | None = None) -> ModelArchitecture:
    """A quantized release of ``base`` (``parameters``: how many are stored quantized)."""
    return replace(base, quantization=method, quantized_weight_bytes=weight_bytes, quantized_parameters=parameters,
                   context_length=context_length or base.context_length)


_LLAMA_8B = ModelArchitecture(8.03e9, 32, 32, 8, 128, 4096, 14336, 128256, 131072)
_LLAMA_70B = ModelArchitecture(70.55e9, 80, 64, 8, 128, 8192, 28672, 128256, 131072)
_LLAMA_405B = ModelArchitecture(405.85e9, 126, 128, 8, 128, 16384, 53248, 128256, 131072)
_LLAMA4_SCOUT = ModelArchitecture(108.64e9, 48, 40, 8, 128, 5120, 16384, 202048, 10485760,
                                  active_parameters=17.17e9, encoder_parameters=0.43e9, sliding_window=8192,
                                  local_layers=36, chunked_local_attention=True)
_LLAMA4_MAVERICK = ModelArchitecture(401.65e9, 48, 40, 8, 128, 5120, 16384, 202048, 1048576,
                                     active_parameters=17.17e9, encoder_parameters=0.43e9, sliding_window=8192,
                                     local_layers=36, chunked_local_attention=True)
_QWEN25_7B = ModelArchitecture(7.62e9, 28, 28, 4, 128, 3584, 18944, 152064, 32768)
_QWEN25_32B = ModelArchitecture(32.76e9, 64, 40, 8, 128, 5120, 27648, 152064, 32768)
_QWEN25_72B = ModelArchitecture(72.71e9, 80, 64, 8, 128, 8192, 29568, 152064, 32768)
_QWEN3_32B = ModelArchitecture(32.76e9, 64, 64, 8, 128, 5120, 25600, 151936, 40960)
_QWEN3_30B_A3B = ModelArchitecture(30.53e9, 48, 32, 4, 128, 2048, 6144, 151936, 40960, active_parameters=3.3e9)
_QWEN3_235B_A22B = ModelArchitecture(235.09e9, 94, 64, 4, 128, 4096, 12288, 151936, 40960,
                                     active_parameters=22.14e9)
_QWEN3_CODER_480B = ModelArchitecture(480.15e9, 62, 96, 8, 128, 6144, 8192, 151936, 262144,
                                      active_parameters=35.1e9)
_DEEPSEEK_V3 = ModelArchitecture(671e9, 61, 128, 128, 128, 7168, 18432, 129280, 163840, active_parameters=37e9,
                                 kv_latent_dim=576, quantization="fp8", quantized_weight_bytes=1.0)
_GPT_OSS_120B = ModelArchitecture(116.83e9, 36, 64, 8, 64, 2880, 2880, 201088, 131072, active_parameters=5.13e9,
                                  quantization="mxfp4", quantized_weight_bytes=MXFP4_BYTES,
                                  quantized_parameters=114.66e9, sliding_window=128, local_layers=18)
_GPT_OSS_20B = ModelArchitecture(20.91e9, 24, 64, 8, 64, 2880, 2880, 201088, 131072, active_parameters=3.61e9,
                                 quantization="mxfp4", quantized_weight_bytes=MXFP4_BYTES,
                                 quantized_parameters=19.11e9, sliding_window=128, local_layers=12)
_MISTRAL_7B_V03 = ModelArchitecture(7.25e9, 32, 32, 8, 128, 4096, 14336, 32768, 32768)
_MISTRAL_SMALL_24B = ModelArchitecture(23.57e9, 40, 32, 8, 128, 5120, 32768, 131072, 32768)

MODEL_CATALOG: MappingProxyType[str, ModelArchitecture] = MappingProxyType({
    "facebook/opt-125m": ModelArchitecture(0.125e9, 12, 12, 12, 64, 768, 3072, 50272, 2048, tied_embeddings=True),
    "meta-llama/Llama-3.2-1B-Instruct": ModelArchitecture(1.24e9, 16, 32, 8, 64, 2048, 8192, 128256, 131072,
                                                          tied_embeddings=True),
    "meta-llama/Llama-3.2-3B-Instruct": ModelArchitecture(3.21e9, 28, 24, 8, 128, 3072, 8192, 128256, 131072,
                                                          tied_embeddings=True),
    "meta-llama/Meta-Llama-3-8B-Instruct": replace(_LLAMA_8B, context_length=8192),
    "meta-llama/Llama-3.1-8B-Instruct": _LLAMA_8B,
    "meta-llama/Meta-Llama-3.1-8B-Instruct": _LLAMA_8B,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": _LLAMA_8B,
    "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4": _quantized(_LLAMA_8B, "awq", AWQ_4BIT_G128_BYTES),
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8": _quantized(_LLAMA_8B, "compressed-tensors", 1.0),
    "meta-llama/Llama-3.1-70B-Instruct": _LLAMA_70B,
    "meta-llama/Meta-Llama-3.1-70B-Instruct": _LLAMA_70B,
    "meta-llama/Meta-Llama-3-70B-Instruct": replace(_LLAMA_70B, context_length=8192),
    "meta-llama/Llama-3.3-70B-Instruct": _LLAMA_70B,
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": _LLAMA_70B,
    "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4": _quantized(_LLAMA_70B, "awq", AWQ_4BIT_G128_BYTES),
    "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic": _quantized(_LLAMA_70B, "compressed-tensors", 1.0),
    "meta-llama/Llama-3.1-405B-Instruct": _LLAMA_405B,
    "meta-llama/Meta-Llama-3.1-405B-Instruct": _LLAMA_405B,
    # Meta's FP8 release quantizes the MLPs of layers 1-124 only (attention, first and last layer in bf16)
    "meta-llama/Llama-3.1-405B-Instruct-FP8": _quantized(_LLAMA_405B, "fbgemm_fp8", 1.0, 124 * 3 * 16384 * 53248),
    "meta-llama/Meta-Llama-3.1-405B-Instruct-FP8": _quantized(_LLAMA_405B, "fbgemm_fp8", 1.0,
                                                              124 * 3 * 16384 * 53248),
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": _LLAMA4_SCOUT,
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct": _LLAMA4_MAVERICK,
    # the FP8 release quantizes the routed experts: 24 MoE layers x 128 experts x 3 x 5120 x 8192
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8": _quantized(_LLAMA4_MAVERICK, "compressed-tensors", 1.0,
                                                                    24 * 128 * 3 * 5120 * 8192),
    "Qwen/Qwen2.5-7B-Instruct": _QWEN25_7B,
    "Qwen/Qwen2.5-Coder-7B-Instruct": _QWEN25_7B,
    "Qwen/Qwen2.5-7B-Instruct-AWQ": _quantized(_QWEN25_7B, "awq", AWQ_4BIT_G128_BYTES),
    "Qwen/Qwen2.5-32B-Instruct": _QWEN25_32B,
    "Qwen/Qwen2.5-Coder-32B-Instruct": _QWEN25_32B,
    "Qwen/Qwen2.5-32B-Instruct-AWQ": _quantized(_QWEN25_32B, "awq", AWQ_4BIT_G128_BYTES),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": replace(_QWEN25_32B, context_length=131072),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": ModelArchitecture(14.77e9, 48, 40, 8, 128, 5120, 13824, 152064,
                                                                  131072),
    "Qwen/Qwen2.5-72B-Instruct": _QWEN25_72B,
    "Qwen/Qwen2.5-72B-Instruct-AWQ": _quantized(_QWEN25_72B, "awq", AWQ_4BIT_G128_BYTES),
    "Qwen/Qwen2.5-VL-7B-Instruct": ModelArchitecture(8.29e9, 28, 28, 4, 128, 3584, 18944, 152064, 128000,
                                                     encoder_parameters=0.67e9),
    "Qwen/Qwen2.5-VL-72B-Instruct": ModelArchitecture(73.41e9, 80, 64, 8, 128, 8192, 29568, 152064, 128000,
                                                      encoder_parameters=0.67e9),
    "Qwen/Qwen3-0.6B": ModelArchitecture(0.596e9, 28, 16, 8, 128, 1024, 3072, 151936, 40960, tied_embeddings=True),
    "Qwen/Qwen3-4B": ModelArchitecture(4.02e9, 36, 32, 8, 128, 2560, 9728, 151936, 40960, tied_embeddings=True),
    "Qwen/Qwen3-8B": ModelArchitecture(8.19e9, 36, 32, 8, 128, 4096, 12288, 151936, 40960),
    "Qwen/Qwen3-14B": ModelArchitecture(14.77e9, 40, 40, 8, 128, 5120, 17408, 151936, 40960),
    "Qwen/Qwen3-32B": _QWEN3_32B,
    "Qwen/Qwen3-32B-AWQ": _quantized(_QWEN3_32B, "awq", AWQ_4BIT_G128_BYTES),
    "Qwen/Qwen3-32B-FP8": _quantized(_QWEN3_32B, "fp8", 1.0),
    "Qwen/Qwen3-30B-A3B": _QWEN3_30B_A3B,
    "Qwen/Qwen3-30B-A3B-FP8": _quantized(_QWEN3_30B_A3B, "fp8", 1.0),
    "Qwen/Qwen3-30B-A3B-Instruct-2507": replace(_QWEN3_30B_A3B, context_length=262144),
    "Qwen/Qwen3-235B-A22B": _QWEN3_235B_A22B,
    "Qwen/Qwen3-235B-A22B-FP8": _quantized(_QWEN3_235B_A22B, "fp8", 1.0),
    "Qwen/Qwen3-235B-A22B-Instruct-2507": replace(_QWEN3_235B_A22B, context_length=262144),
    "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8": _quantized(_QWEN3_235B_A22B, "fp8", 1.0, context_length=262144),
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": _QWEN3_CODER_480B,
    "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8": _quantized(_QWEN3_CODER_480B, "fp8", 1.0),
    "mistralai/Mistral-7B-Instruct-v0.2": ModelArchitecture(7.24e9, 32, 32, 8, 128, 4096, 14336, 32000, 32768),
    "mistralai/Mistral-7B-Instruct-v0.3": _MISTRAL_7B_V03,
    "mistralai/Mistral-7B-v0.3": _MISTRAL_7B_V03,
    "mistralai/Mistral-Nemo-Instruct-2407": ModelArchitecture(12.25e9, 40, 32, 8, 128, 5120, 14336, 131072,
                                                              1024000),
    "mistralai/Mistral-Small-24B-Instruct-2501": _MISTRAL_SMALL_24B,
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506": replace(_MISTRAL_SMALL_24B, parameters=24.01e9,
                                                             context_length=131072, encoder_parameters=0.44e9),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": ModelArchitecture(46.7e9, 32, 32, 8, 128, 4096, 14336, 32000, 32768,
                                                              active_parameters=12.9e9),
    "mistralai/Mixtral-8x22B-Instruct-v0.1": ModelArchitecture(140.6e9, 56, 48, 8, 128, 6144, 16384, 32768, 65536,
                                                               active_parameters=39.2e9),
    "microsoft/phi-4": ModelArchitecture(14.66e9, 40, 40, 10, 128, 5120, 17920, 100352, 16384),
    "microsoft/Phi-4-mini-instruct": ModelArchitecture(3.84e9, 32, 24, 8, 128, 3072, 8192, 200064, 131072,
                                                       tied_embeddings=True),
    "google/gemma-7b-it": ModelArchitecture(8.54e9, 28, 16, 16, 256, 3072, 24576, 256000, 8192,
                                            tied_embeddings=True),
    "google/gemma-2-9b-it": ModelArchitecture(9.24e9, 42, 16, 8, 256, 3584, 14336, 256000, 8192,
                                              tied_embeddings=True, sliding_window=4096, local_layers=21),
    "google/gemma-3-4b-it": ModelArchitecture(4.30e9, 34, 8, 4, 256, 2560, 10240, 262208, 131072,
                                              tied_embeddings=True, encoder_parameters=0.42e9, sliding_window=1024,
                                              local_layers=29),
    "google/gemma-3-12b-it": ModelArchitecture(12.19e9, 48, 16, 8, 256, 3840, 15360, 262208, 131072,
                                               tied_embeddings=True, encoder_parameters=0.42e9, sliding_window=1024,
                                               local_layers=40),
    "google/gemma-3-27b-it": ModelArchitecture(27.43e9, 62, 32, 16, 128, 5376, 21504, 262208, 131072,
                                               tied_embeddings=True, encoder_parameters=0.42e9, sliding_window=1024,
                                               local_layers=52),
    "deepseek-ai/deepseek-coder-6.7b-instruct": ModelArchitecture(6.74e9, 32, 32, 32, 128, 4096, 11008, 32256,
                                                                  16384),
    "deepseek-ai/deepseek-coder-33b-instruct": ModelArchitecture(33.34e9, 62, 56, 8, 128, 7168, 19200, 32256, 16384),
    "deepseek-ai/DeepSeek-V3": _DEEPSEEK_V3,
    "deepseek-ai/DeepSeek-V3-0324": _DEEPSEEK_V3,
    "deepseek-ai/DeepSeek-R1": _DEEPSEEK_V3,
    "deepseek-ai/DeepSeek-R1-0528": _DEEPSEEK_V3,
    "openai/gpt-oss-20b": _GPT_OSS_20B,
    "openai/gpt-oss-120b": _GPT_OSS_120B,
})
"""Known architectures by Hugging Face repository id, each from that repository's config.json
(``text_config`` for multimodal models; vision towers counted in ``parameters`` and
``encoder_parameters``; MoE totals with every expert) and ``quantization_config``; a checkpoint
that names a base model's shapes reuses that entry. ``vllm-infra models`` lists them."""
