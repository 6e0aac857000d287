"""Architecture facts read from Hugging Face config.json files, one hand-written config per class
vLLM's model classes read differently: parameter totals are checked against the published ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.hf_config import UnsizedArchitecture, architecture_from_hf_config, read_model_config
from vllm_infra.catalog.quantization import (
    checkpoint_quantization,
    effective_quantization,
    quantization_family,
    refused_quantization,
)

DEEPSEEK_V3 = {"model_type": "deepseek_v3", "hidden_size": 7168, "num_hidden_layers": 61, "first_k_dense_replace": 3,
               "n_routed_experts": 256, "moe_intermediate_size": 2048, "n_shared_experts": 1,
               "intermediate_size": 18432, "num_attention_heads": 128, "num_key_value_heads": 128,
               "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
               "v_head_dim": 128, "vocab_size": 129280, "num_experts_per_tok": 8, "max_position_embeddings": 163840,
               "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128], "fmt": "e4m3"}}
GPT_OSS_120B = {"model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 36,
                "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "num_local_experts": 128,
                "num_experts_per_tok": 4, "vocab_size": 201088, "max_position_embeddings": 131072,
                "sliding_window": 128, "layer_types": ["sliding_attention", "full_attention"] * 18,
                "tie_word_embeddings": False,
                "quantization_config": {"quant_method": "mxfp4",
                                        "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]}}
GEMMA3_27B = {"model_type": "gemma3", "tie_word_embeddings": True,
              "text_config": {"model_type": "gemma3_text", "hidden_size": 5376, "intermediate_size": 21504,
                              "num_hidden_layers": 62, "num_attention_heads": 32, "num_key_value_heads": 16,
                              "head_dim": 128, "vocab_size": 262208, "max_position_embeddings": 131072,
                              "sliding_window": 1024, "sliding_window_pattern": 6},
              "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27}}
LLAMA_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
            "max_position_embeddings": 131072}


def test_latent_attention_moe_counts_the_published_671b() -> None:
    arch = architecture_from_hf_config(DEEPSEEK_V3)
    assert round(arch.parameters / 1e9) == 671 and round((arch.active_parameters or 0) / 1e9) == 37
    assert (arch.kv_latent_dim, arch.quantization, arch.quantized_weight_bytes) == (576, "fp8", 1.0)


def test_gpt_oss_quantizes_only_its_experts_and_alternates_a_128_token_window() -> None:
    arch = architecture_from_hf_config(GPT_OSS_120B)
    assert round(arch.parameters / 1e9, 1) == 116.8  # OpenAI: 117B
    assert (arch.quantization, arch.quantized_weight_bytes) == ("mxfp4", 0.5 + 1 / 32)
    assert round((arch.quantized_parameters or 0) / 1e9, 2) == 114.66  # 36 x 128 experts x 3 x 2880^2
    assert (arch.local_layers, arch.sliding_window, arch.chunked_local_attention) == (18, 128, False)
    catalog = MODEL_CATALOG["openai/gpt-oss-120b"]
    assert (catalog.local_layers, catalog.sliding_window, catalog.quantization) == (18, 128, "mxfp4")


def test_gemma3_slides_five_layers_of_six_and_counts_its_vision_tower() -> None:
    arch = architecture_from_hf_config(GEMMA3_27B)
    assert round(arch.parameters / 1e9, 2) == 27.43  # Google: 27.4B with the SigLIP encoder
    assert round(arch.encoder_parameters / 1e9, 2) == 0.42
    assert (arch.local_layers, arch.sliding_window, arch.tied_embeddings) == (52, 1024, True)


@pytest.mark.parametrize(("extra", "local", "window", "chunked"), [
    ({"model_type": "gemma2", "sliding_window": 4096, "num_hidden_layers": 42}, 21, 4096, False),
    ({"model_type": "qwen2", "sliding_window": 4096, "use_sliding_window": False}, 0, None, False),
    ({"model_type": "mistral", "sliding_window": 4096}, 32, 4096, False),
    ({"model_type": "llama", "sliding_window": 131072}, 0, None, False),
    ({"model_type": "llama4_text", "attention_chunk_size": 8192, "num_hidden_layers": 48}, 36, 8192, True),
    ({"model_type": "llama4_text", "attention_chunk_size": 8192, "no_rope_layers": [1, 1, 0, 1]}, 3, 8192, True),
    ({"layer_types": ["sliding_attention"] * 24 + ["full_attention"] * 8, "sliding_window": 512}, 24, 512, False),
], ids=["gemma2-alternating", "qwen2-window-off", "mistral-all-layers", "window-as-long-as-the-context",
        "llama4-every-fourth-global", "llama4-no-rope-layers", "layer-types"])
def test_local_attention_layers_as_vllm_assigns_them(extra: dict[str, Any], local: int, window: int | None,
                                                    chunked: bool) -> None:
    arch = architecture_from_hf_config({**LLAMA_8B, **extra})
    assert (arch.local_layers, arch.sliding_window, arch.chunked_local_attention) == (local, window, chunked)


def test_layers_with_a_per_sequence_state_are_not_sized() -> None:
    config = {**LLAMA_8B, "layer_types": ["linear_attention"] * 24 + ["full_attention"] * 8}
    with pytest.raises(UnsizedArchitecture, match="24 of 32 layers keep a per-sequence state"):
        architecture_from_hf_config(config)


def test_shared_kv_layers_and_per_layer_embeddings() -> None:
    config = {**LLAMA_8B, "num_kv_shared_layers": 12, "vocab_size_per_layer_input": 262144,
              "hidden_size_per_layer_input": 256}
    arch = architecture_from_hf_config(config)
    assert (arch.kv_layers, arch.per_layer_embedding_parameters) == (20, 262144 * 256 * 32)
    assert arch.embedding_parameters == 128256 * 4096 * 2 + 262144 * 256 * 32  # kept in 16 bits when quantized


@pytest.mark.parametrize(("section", "method", "weight_bytes"), [
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, "awq", 0.5 + 2.5 / 128),
    ({"quant_method": "gptq", "bits": 8, "group_size": -1}, "gptq", 1.0),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "fp8", 1.0),
    ({"quant_method": "mxfp4"}, "mxfp4", 0.53125),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": True}, "bitsandbytes",
     0.5 + 1 / 64),
    ({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"group_0": {
        "weights": {"num_bits": 4, "type": "int", "symmetric": True, "group_size": 128}}}}, "compressed-tensors",
     0.5 + 2 / 128),
    ({"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"group_0": {
        "weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}}}, "compressed-tensors", 1.0),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized"}, "compressed-tensors", 0.5625),
    ({"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "NVFP4"}}, "modelopt_fp4", 0.5625),
    ({"quant_method": "gguf"}, "gguf", None),
], ids=["awq", "gptq-8bit-per-channel", "fp8-blocks", "mxfp4", "bnb-nf4", "ct-w4a16", "ct-fp8", "ct-nvfp4",
        "modelopt-nvfp4", "unmodelled"])
def test_checkpoint_quantization_as_vllm_reads_it(section: dict[str, Any], method: str,
                                                  weight_bytes: float | None) -> None:
    found = checkpoint_quantization({**LLAMA_8B, "quantization_config": section})
    assert found is not None and (found.method, found.weight_bytes) == (method, weight_bytes)


def test_the_checkpoint_decides_and_the_flag_may_only_repeat_it() -> None:
    assert effective_quantization(None, "awq") == "awq" and effective_quantization("fp8", None) == "fp8"
    assert quantization_family("awq_marlin") == "awq" and quantization_family("compressed_tensors") == \
        "compressed-tensors"
    assert not refused_quantization("awq_marlin", "awq") and not refused_quantization("marlin", "gptq")
    assert refused_quantization("gptq", "awq") and refused_quantization("fp8", "compressed-tensors")
    assert checkpoint_quantization(LLAMA_8B) is None


def test_a_model_directory_is_read_with_its_checkpoint_size(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA_8B, "quantization_config": {
        "quant_method": "awq", "bits": 4, "group_size": 128}}))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 5_730_000_000}}))
    arch = read_model_config(tmp_path / "config.json")
    assert (arch.checkpoint_bytes, arch.quantization) == (5_730_000_000, "awq")
