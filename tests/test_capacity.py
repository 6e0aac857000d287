"""Worked numbers for the memory estimate, fit suggestions, derived defaults and the model catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from vllm_infra.capacity.memory import ServingSettings, estimate
from vllm_infra.capacity.startup import startup_seconds
from vllm_infra.catalog.architectures import MODEL_CATALOG, ModelArchitecture
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuType
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.units import GIB_BYTES

Build = Callable[..., dict[str, Any]]
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def memory(model: str, gpu: GpuType, tensor: int = 1, length: int | None = None, **kwargs: Any) -> Any:
    arch = MODEL_CATALOG[model]
    settings = {"pipeline": 1, "dtype": "auto", "quantization": None, "kv_cache_dtype": "auto", "max_num_seqs": 256,
                "utilization": 0.9, **kwargs}
    return estimate(ServingSettings(arch, GPU_CATALOG[gpu], tensor=tensor, max_model_len=length or arch.context_length,
                                    **settings))


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def test_70b_bf16_does_not_fit_one_h100() -> None:
    single = memory(LLAMA_70B, GpuType.H100_80GB)
    assert round(single.weights / GIB_BYTES, 1) == 131.4  # 70.55e9 parameters x 2 bytes
    assert round(single.budget / GIB_BYTES, 1) == 71.7  # 81559 MiB x 0.9
    assert not single.weights_fit and not single.fits


def test_70b_fits_with_tensor_parallel_4() -> None:
    tp4 = memory(LLAMA_70B, GpuType.H100_80GB, tensor=4)
    assert round(tp4.weights / GIB_BYTES, 1) == 32.9
    assert tp4.kv_per_token == 2 * 80 * (8 // 4) * 128 * 2  # K and V, 80 layers, 2 KV heads per GPU, bf16
    assert tp4.kv_capacity == 489_740
    assert tp4.fits and round(tp4.full_length_sequences, 2) == 3.74


def test_8b_fits_one_l4_only_with_a_reduced_context() -> None:
    full = memory(LLAMA_8B, GpuType.L4)
    assert round(full.kv_space / GIB_BYTES, 1) == 3.7
    assert full.kv_capacity == 30_026
    assert full.max_model_len == 131_072
    assert not full.fits
    assert full.longest_context == 29_696
    assert memory(LLAMA_8B, GpuType.L4, length=8192).fits


def test_fp8_kv_cache_doubles_capacity() -> None:
    assert memory(LLAMA_8B, GpuType.L4, kv_cache_dtype="fp8").kv_capacity == 60_053  # 3.7 GiB / 64 KiB


def test_mla_cache_is_not_split_by_tensor_parallelism() -> None:
    deepseek = memory("deepseek-ai/DeepSeek-V3", GpuType.H200, tensor=8, length=32768)
    assert deepseek.kv_per_token == 61 * 576 * 2
    assert round(deepseek.weights / GIB_BYTES, 1) == 78.1  # fp8 checkpoint: 671e9 bytes / 8
    assert deepseek.fits


def test_startup_budget_follows_model_size() -> None:
    arch = MODEL_CATALOG[LLAMA_70B]
    assert startup_seconds(arch, dtype="auto", quantization=None, gpus=4, downloads=True) == 780
    assert startup_seconds(arch, dtype="auto", quantization=None, gpus=4, downloads=False) == 600
    assert startup_seconds(MODEL_CATALOG["meta-llama/Llama-3.1-405B-Instruct"], dtype="auto", quantization=None,
                           gpus=16, downloads=True) == 3360


def test_service_misfit_lists_numbers_and_fixes(service_data: Build) -> None:
    data = service_data(model={"id": LLAMA_70B, "max_model_len": None}, accelerator={"type": "H100-80GB"})
    assert errors(data) == [(
        "model",
        "meta-llama/Llama-3.1-70B-Instruct does not fit on 1 x H100-80GB (TP=1, PP=1): 131.4 GiB of weights plus "
        "2.1 GiB of runtime overhead per GPU exceed the 71.7 GiB usable per H100-80GB (79.6 GiB x "
        "gpu_memory_utilization 0.9). Fits with: parallelism.tensor: 4",
    )]


def test_service_context_misfit_suggests_the_longest_context(service_data: Build) -> None:
    data = service_data(model={"max_model_len": None})
    assert errors(data) == [(
        "model",
        "meta-llama/Llama-3.1-8B-Instruct does not fit on 1 x L4 (TP=1, PP=1): after 15.0 GiB of weights and 1.6 GiB "
        "of overhead, 3.7 GiB of KV cache holds 30026 tokens, fewer than max_model_len 131072 (128 KiB per token and "
        "GPU). Fits with: parallelism.tensor: 2; accelerator.type: A100-40GB; model.max_model_len: 29696",
    )]


def test_quantization_is_offered_when_it_fits(service_data: Build) -> None:
    data = service_data(model={"id": LLAMA_70B, "max_model_len": 32768}, accelerator={"type": "H200"})
    [(_, message)] = errors(data)
    assert message.endswith("Fits with: parallelism.tensor: 2; accelerator.type: B200; model.quantization: fp8")


def test_heads_must_divide_tensor_parallelism(service_data: Build) -> None:
    qwen = {"id": "Qwen/Qwen2.5-7B-Instruct", "max_model_len": 8192}
    assert errors(service_data(model=qwen, accelerator={"type": "H100-80GB"}, parallelism={"tensor": 8})) == [
        ("parallelism.tensor", "28 attention heads of Qwen/Qwen2.5-7B-Instruct cannot be split over tensor "
                               "parallelism 8")]
    assert errors(service_data(model=qwen, accelerator={"type": "H100-80GB"}, parallelism={"tensor": 7})) == [
        ("parallelism.tensor", "4 KV heads of Qwen/Qwen2.5-7B-Instruct cannot be split or replicated over tensor "
                               "parallelism 7")]


def test_context_beyond_the_model_maximum(service_data: Build) -> None:
    data = service_data(model={"id": "Qwen/Qwen2.5-7B-Instruct", "max_model_len": 65536},
                        accelerator={"type": "H100-80GB"})
    assert errors(data) == [("model.max_model_len", "Qwen/Qwen2.5-7B-Instruct supports at most 32768 tokens of "
                                                    "context")]


def test_unknown_models_are_not_sized_unless_described(service_data: Build) -> None:
    private = service_data(model={"id": "acme/private-13b", "max_model_len": None})
    service = VllmServiceSpec.model_validate(private).resolved
    assert service.memory_estimate is None
    assert service.startup_budget == 900
    described = service_data(model={"id": "acme/private-13b", "architecture": LLAMA_8B})
    sized = VllmServiceSpec.model_validate(described).resolved.memory_estimate
    assert sized is not None and sized.kv_capacity == 30_026
    assert errors(service_data(model={"architecture": "acme/unknown"})) == [
        ("model.architecture", "unknown architecture 'acme/unknown' (see `vllm-infra models`, or give the facts "
                               "inline)")]


def test_inline_architecture(service_data: Build) -> None:
    arch = {"parameters": 13e9, "layers": 40, "attention_heads": 40, "kv_heads": 40, "head_dim": 128,
            "hidden_size": 5120, "intermediate_size": 13824, "vocab_size": 32000, "context_length": 4096}
    service = VllmServiceSpec.model_validate(service_data(
        model={"id": "acme/llama-2-13b-chat", "architecture": arch, "max_model_len": 4096},
        accelerator={"type": "A100-80GB"})).resolved
    estimate_ = service.memory_estimate
    assert estimate_ is not None and estimate_.fits
    assert estimate_.kv_per_token == 2 * 40 * 40 * 128 * 2


def test_derived_host_memory_and_cache(service_data: Build) -> None:
    service = VllmServiceSpec.model_validate(service_data(
        model={"id": LLAMA_70B, "max_model_len": 32768}, accelerator={"type": "H100-80GB"},
        parallelism={"tensor": 4})).resolved
    assert service.process_memory_bytes == (132 + 8) * GIB_BYTES  # the pod's share of the weights + 8Gi
    assert service.model_cache_bytes == 165 * GIB_BYTES  # 1.25 x 131.4 GiB
    assert service.startup_budget == 780


def test_hf_config_import_estimates_parameters() -> None:
    config = {"hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 32,
              "vocab_size": 32000, "intermediate_size": 14336, "max_position_embeddings": 32768,
              "num_local_experts": 8, "num_experts_per_tok": 2}
    arch = ModelArchitecture.from_hf_config(config)
    catalog = MODEL_CATALOG["mistralai/Mixtral-8x7B-Instruct-v0.1"]
    assert round(arch.parameters / 1e9, 1) == round(catalog.parameters / 1e9, 1) == 46.7
    assert arch.active_parameters is not None and round(arch.active_parameters / 1e9, 1) == 12.9
    assert (arch.layers, arch.kv_heads, arch.head_dim, arch.context_length) == (32, 8, 128, 32768)


def test_catalog_has_the_popular_models() -> None:
    assert len(MODEL_CATALOG) >= 10
    for model in (LLAMA_8B, LLAMA_70B, "meta-llama/Llama-3.1-405B-Instruct", "Qwen/Qwen2.5-72B-Instruct",
                  "Qwen/Qwen3-8B", "mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mixtral-8x7B-Instruct-v0.1",
                  "google/gemma-2-9b-it", "deepseek-ai/DeepSeek-V3", "Qwen/Qwen3-30B-A3B"):
        assert model in MODEL_CATALOG
    assert sum(1 for arch in MODEL_CATALOG.values() if arch.active_parameters) >= 3


def test_fp8_is_only_suggested_and_accepted_where_the_gpu_runs_it(service_data: Build) -> None:
    """A T4 (compute capability 7.5) has neither FP8 hardware nor vLLM's weight-only FP8 kernel."""
    too_long = service_data(model={"max_model_len": None, "dtype": "float16"}, accelerator={"type": "T4"})
    [(_, message)] = errors(too_long)
    assert "fp8" not in message.split("Fits with:")[1]
    assert errors(service_data(model={"quantization": "fp8", "dtype": "float16"}, accelerator={"type": "T4"})) == [
        ("model.quantization", "T4 cannot run fp8 weights (it has no FP8 support: FP8 needs compute capability 8.9 or "
                               "newer, weight-only FP8 on dense models 8.0)")]
    assert errors(service_data(model={"kv_cache_dtype": "fp8", "dtype": "float16"}, accelerator={"type": "T4"})) == [
        ("model.kv_cache_dtype", "T4 has no FP8 hardware for an fp8 KV cache (compute capability 8.9 or newer, or "
                                 "MI300)")]


def test_weight_only_fp8_runs_dense_models_on_ampere(service_data: Build) -> None:
    assert VllmServiceSpec.model_validate(service_data(model={"quantization": "fp8"}, accelerator={"type": "A10G"}))
    moe = service_data(model={"id": "Qwen/Qwen3-30B-A3B", "quantization": "fp8"}, accelerator={"type": "A100-80GB"})
    assert errors(moe) == [("model.quantization", "A100-80GB cannot run fp8 weights (fused MoE layers need FP8 "
                                                  "hardware: FP8 needs compute capability 8.9 or newer, weight-only "
                                                  "FP8 on dense models 8.0)")]
