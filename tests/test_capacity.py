"""Worked numbers for the memory estimate, fit suggestions, derived defaults and the model catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from vllm_infra.capacity.memory import ServingSettings, Verdict, estimate
from vllm_infra.capacity.startup import startup_seconds, transfer_seconds
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.catalog.gpus import GPU_CATALOG, GpuType
from vllm_infra.catalog.hf_config import architecture_from_hf_config
from vllm_infra.catalog.vllm import VllmVersion, scheduler_defaults
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.units import GIB_BYTES

Build = Callable[..., dict[str, Any]]
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def memory(model: str, gpu: GpuType, tensor: int = 1, length: int | None = None, **kwargs: Any) -> Any:
    arch = MODEL_CATALOG[model]
    settings = {"pipeline": 1, "dtype": "auto", "quantization": None, "kv_cache_dtype": "auto", "max_num_seqs": 256,
                "utilization": 0.9, "version": VllmVersion(0, 11, 0), **kwargs}
    return estimate(ServingSettings(arch, GPU_CATALOG[gpu], tensor=tensor, max_model_len=length or arch.context_length,
                                    **settings))


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def test_usable_memory_is_what_vllm_budgets_from() -> None:
    assert GPU_CATALOG[GpuType.H100_80GB].usable_bytes == 81080 * 2**20  # nvidia-smi 81559 MiB - reserved
    assert GPU_CATALOG[GpuType.H200].usable_bytes == (143771 - 616) * 2**20  # measured on a device
    assert GPU_CATALOG[GpuType.L4].usable_bytes == (23034 - 640) * 2**20  # not measured: the fallback reservation


def test_70b_bf16_does_not_fit_one_h100() -> None:
    single = memory(LLAMA_70B, GpuType.H100_80GB)
    assert round(single.weights / GIB_BYTES, 1) == 131.4  # 70.55e9 parameters x 2 bytes
    assert round(single.budget / GIB_BYTES, 1) == 71.3  # 81080 MiB usable x 0.9
    assert not single.weights_fit and single.verdict == Verdict.TOO_SMALL


def test_70b_fits_with_tensor_parallel_4() -> None:
    tp4 = memory(LLAMA_70B, GpuType.H100_80GB, tensor=4)
    assert round(tp4.weights / GIB_BYTES, 3) == 32.852  # 70.55e9 x 2 / 4
    # profiling peak: the sampler warm-up, 39 B x 256 sequences x 128256 vocab = 1.193 GiB (the forward pass
    # over 8192 tokens is 8192 x (8192 + 2 x 28672 / 4) x 2 B = 0.344 GiB)
    assert round(tp4.activation / GIB_BYTES, 3) == 1.193
    assert tp4.kv_per_token == 2 * 80 * (8 // 4) * 128 * 2  # K and V, 80 layers, 2 KV heads per GPU, bf16
    # 71.262 - 32.852 - 0.55 (non-torch, TP > 1) - 1.193 = 36.667 GiB = 30037 blocks of 16 tokens x 80 KiB
    assert round(tp4.kv_space / GIB_BYTES, 3) == 36.667
    assert tp4.kv_capacity == 30037 * 16 == 480_592
    assert tp4.verdict == Verdict.FITS and round(tp4.full_length_sequences, 2) == 3.67


def test_8b_fits_one_l4_only_with_a_reduced_context() -> None:
    full = memory(LLAMA_8B, GpuType.L4)
    assert round(full.kv_space / GIB_BYTES, 2) == 3.38  # 19.68 budget - 14.96 weights - 0.15 - 1.19
    assert full.kv_capacity == 27_696
    assert full.max_model_len == 131_072
    assert full.verdict == Verdict.TOO_SMALL
    assert full.longest_context == 24_576  # 27696 / 1.1, down to a multiple of 1024
    assert memory(LLAMA_8B, GpuType.L4, length=8192).verdict == Verdict.FITS


def test_fp8_kv_cache_doubles_capacity() -> None:
    assert memory(LLAMA_8B, GpuType.L4, kv_cache_dtype="fp8").kv_capacity == 55_408  # 3.38 GiB / 64 KiB per token


def test_mla_cache_is_not_split_by_tensor_parallelism() -> None:
    deepseek = memory("deepseek-ai/DeepSeek-V3", GpuType.H200, tensor=8, length=32768)
    assert deepseek.kv_per_token == 61 * 576 * 2
    # fp8 checkpoint, 671e9 bytes, plus its bf16 embedding and lm_head (129280 x 7168 x 2 x 1 byte more), / 8
    assert round(deepseek.weights / GIB_BYTES, 1) == 78.3
    assert deepseek.verdict == Verdict.FITS


def test_qwen3_32b_at_32k_on_one_h100_with_vllm_0_11_defaults_does_not_start() -> None:
    """vLLM 0.11 refused this configuration for lack of KV cache (the old model accepted it)."""
    at_32k = memory("Qwen/Qwen3-32B", GpuType.H100_80GB, length=32768, max_num_seqs=None)
    assert at_32k.settings.sequences == 1024  # the default on >= 70 GiB GPUs other than A100
    assert round(at_32k.activation / GIB_BYTES, 3) == 5.651  # 39 B x 1024 x 151936
    # 71.262 - 61.020 (32.76e9 x 2) - 0.15 - 5.651 = 4.44 GiB: 18,176 tokens of 256 KiB, < 32,768
    assert (round(at_32k.kv_space / GIB_BYTES, 2), at_32k.kv_capacity) == (4.44, 18_176)
    assert at_32k.verdict == Verdict.TOO_SMALL
    assert memory("Qwen/Qwen3-32B", GpuType.H100_80GB, length=16000, max_num_seqs=None).verdict == Verdict.FITS


def test_max_num_seqs_sizes_the_sampler_warm_up() -> None:
    small = memory(LLAMA_8B, GpuType.H100_80GB, length=32768, max_num_seqs=256)
    large = memory(LLAMA_8B, GpuType.H100_80GB, length=32768, max_num_seqs=1024)
    assert (round(small.activation / GIB_BYTES, 2), round(large.activation / GIB_BYTES, 2)) == (1.19, 4.77)
    assert (small.kv_capacity, large.kv_capacity) == (450_240, 420_928)  # logged with 1024: 51.38 GiB


def test_awq_keeps_embeddings_in_bf16() -> None:
    awq = memory("Qwen/Qwen2.5-7B-Instruct", GpuType.L4, length=32768, quantization="awq")
    # 7.62e9 x 0.5625 + 152064 x 3584 x 2 (untied embedding and lm_head) x (2 - 0.5625) bytes
    assert awq.weights == 7.62e9 * 0.5625 + 152064 * 3584 * 2 * 1.4375
    assert round(awq.weights / GIB_BYTES, 2) == 5.45  # 3.99 GiB if the embeddings were 4-bit too
    assert awq.verdict == Verdict.FITS


def test_a_checkpoint_size_replaces_the_parameter_estimate() -> None:
    arch = replace(MODEL_CATALOG[LLAMA_8B], checkpoint_bytes=16.2e9)
    served = estimate(replace(memory(LLAMA_8B, GpuType.L4, length=8192).settings, arch=arch))
    assert served.weights == 16.2e9


def test_tp4_moe_on_24_gb_gpus_leaves_no_room_for_cuda_graphs() -> None:
    """Qwen3-30B-A3B TP=4 on 4 x A10 died of CUDA OOM during graph capture with vLLM 0.11."""
    moe = memory("Qwen/Qwen3-30B-A3B", GpuType.A10G, tensor=4, length=32768)
    # outside the budget: 0.1 x 22600 MiB = 2.21 GiB, for the CUDA context (0.5) and graphs with
    # custom all-reduce buffers (0.0385 x 48 layers = 1.85 GiB)
    assert (round(moe.headroom / GIB_BYTES, 2), round(moe.headroom_needed / GIB_BYTES, 2)) == (2.21, 2.35)
    assert moe.verdict == Verdict.NO_HEADROOM
    assert memory("Qwen/Qwen3-30B-A3B", GpuType.A10G, tensor=4, length=32768,
                  enforce_eager=True).verdict == Verdict.FITS
    in_budget = memory("Qwen/Qwen3-30B-A3B", GpuType.A10G, tensor=4, length=32768, version=VllmVersion(0, 21, 0))
    assert in_budget.verdict == Verdict.FITS  # from 0.21 graphs come out of the KV cache instead
    assert round((in_budget.overhead - in_budget.non_torch - in_budget.activation) / GIB_BYTES, 2) == 1.85


def test_headroom_misfit_suggests_room_or_no_graphs(service_data: Build) -> None:
    data = service_data(model={"id": "Qwen/Qwen3-30B-A3B", "max_model_len": 32768}, accelerator={"type": "A10G"},
                        parallelism={"tensor": 4})
    assert errors(data) == [(
        "model",
        "Qwen/Qwen3-30B-A3B does not fit on 4 x A10G (TP=4, PP=1, vLLM 0.11.0): the 2.2 GiB left outside the 19.9 GiB "
        "budget (22.1 GiB usable on a A10G x gpu_memory_utilization 0.9) cannot hold the CUDA context and graphs (2.3 "
        "GiB): the engine runs out of memory after allocating the KV cache. Fits with: model.gpu_memory_utilization: "
        "0.89; model.extra_args.enforce-eager: true (no CUDA graphs: slower decoding); accelerator.type: A100-40GB",
    )]


def test_fixed_kv_budget_and_batched_tokens() -> None:
    fixed = memory(LLAMA_8B, GpuType.H100_80GB, length=32768, kv_cache_memory_bytes=8 * GIB_BYTES)
    assert fixed.kv_capacity == 65_536  # 8 GiB / 128 KiB per token, whatever the utilisation leaves
    wide = memory(LLAMA_8B, GpuType.H100_80GB, length=32768, max_num_batched_tokens=65536)
    assert round(wide.activation / GIB_BYTES, 2) == 4.0  # 65536 x (4096 + 2 x 14336) x 2 B > the sampler


def test_kv_cache_is_counted_in_whole_blocks() -> None:
    base = memory(LLAMA_8B, GpuType.L4, length=8192)
    coarse = memory(LLAMA_8B, GpuType.L4, length=8192, block_size=128)
    assert base.kv_capacity % 16 == 0 and coarse.kv_capacity % 128 == 0
    assert coarse.kv_capacity == base.kv_capacity // 128 * 128


def test_margin_tight_between_one_and_1_1_max_model_len() -> None:
    assert memory(LLAMA_8B, GpuType.L4, length=26_624).verdict == Verdict.TIGHT  # 27,696 / 26,624 = 1.04
    assert memory(LLAMA_8B, GpuType.L4, length=24_576).verdict == Verdict.FITS  # 1.13


@pytest.mark.parametrize(("version", "gpu", "expected"), [
    ("0.8.0", GpuType.H100_80GB, (1024, 8192)), ("0.8.0", GpuType.L40S, (1024, 2048)),
    ("0.8.5", GpuType.A100_80GB, (1024, 8192)), ("0.9.0", GpuType.A100_80GB, (256, 2048)),
    ("0.11.0", GpuType.H100_80GB, (1024, 8192)), ("0.27.1", GpuType.B200, (1024, 8192)),
    ("0.28.0", GpuType.B200, (1024, 16384)), ("0.33.0", GpuType.L4, (256, 2048)),
])
def test_scheduler_defaults_follow_the_release(version: str, gpu: GpuType, expected: tuple[int, int]) -> None:
    release = VllmVersion.parse(version)
    assert release is not None
    model = GPU_CATALOG[gpu]
    assert tuple(scheduler_defaults(release, model.usable_bytes, model.type.value)) == expected


def test_startup_budget_follows_model_size() -> None:
    arch = MODEL_CATALOG[LLAMA_70B]
    assert startup_seconds(arch, dtype="auto", quantization=None, gpus=4, transfer_mib_per_s=250) == 780
    assert startup_seconds(arch, dtype="auto", quantization=None, gpus=4, transfer_mib_per_s=None) == 600
    assert startup_seconds(MODEL_CATALOG["meta-llama/Llama-3.1-405B-Instruct"], dtype="auto", quantization=None,
                           gpus=16, transfer_mib_per_s=250) == 3360


def test_a_stream_is_the_load_and_a_pull_comes_before_the_start() -> None:
    """141 GB of Llama-3.1-70B bf16 weights: streamed at 1000 MiB/s (135 s) plus 180 s of engine start
    is 315 s whatever the GPU count, floored to the 600 s minimum; pulled at 250 MiB/s (538 s) and
    unpacked at 1000 MiB/s (135 s) before the start, 720 s rounded to the minute."""
    arch = MODEL_CATALOG[LLAMA_70B]
    for gpus in (1, 4):
        assert startup_seconds(arch, dtype="auto", quantization=None, gpus=gpus, transfer_mib_per_s=1000,
                               streamed=True) == 600
    assert transfer_seconds(arch, dtype="auto", quantization=None, mib_per_s=250, unpacked=True) == 720
    assert transfer_seconds(arch, dtype="auto", quantization=None, mib_per_s=250) == 540


def test_service_misfit_lists_numbers_and_fixes(service_data: Build) -> None:
    data = service_data(model={"id": LLAMA_70B, "max_model_len": None}, accelerator={"type": "H100-80GB"})
    assert errors(data) == [(
        "model",
        "meta-llama/Llama-3.1-70B-Instruct does not fit on 1 x H100-80GB (TP=1, PP=1, vLLM 0.11.0): 131.4 GiB of "
        "weights plus 1.3 GiB of runtime overhead exceed the 71.3 GiB budget (79.2 GiB usable on a H100-80GB x "
        "gpu_memory_utilization 0.9). Fits with: parallelism.tensor: 4",
    )]


def test_service_context_misfit_suggests_the_longest_context(service_data: Build) -> None:
    data = service_data(model={"max_model_len": None})
    assert errors(data) == [(
        "model",
        "meta-llama/Llama-3.1-8B-Instruct does not fit on 1 x L4 (TP=1, PP=1, vLLM 0.11.0): after 15.0 GiB of weights "
        "and 1.3 GiB of overhead in the 19.7 GiB budget (21.9 GiB usable on a L4 x gpu_memory_utilization 0.9), 3.4 "
        "GiB of KV cache holds 27696 tokens (128 KiB per token and GPU), fewer than max_model_len 131072. Fits with: "
        "parallelism.tensor: 2; accelerator.type: A100-40GB; model.max_model_len: 24576",
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


def test_unknown_models_are_never_silently_unsized(service_data: Build) -> None:
    """A model outside the catalog names its architecture: a catalog entry it is a fine-tune of,
    or facts inline; synth never accepts a service whose memory it could not size."""
    assert errors(service_data(model={"id": "acme/private-13b", "max_model_len": None})) == [
        ("model.architecture", "acme/private-13b is not in the model catalog, so its memory cannot be sized: set "
                               "model.architecture to the catalog entry it is a fine-tune of, or give its facts "
                               "inline (`vllm-infra models --import config.json` prints them from its Hugging Face "
                               "config)")]
    described = service_data(model={"id": "acme/private-13b", "architecture": LLAMA_8B})
    sized = VllmServiceSpec.model_validate(described).resolved.memory_estimate
    assert sized is not None and sized.kv_capacity == 27_696
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
    arch = architecture_from_hf_config(config)
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


def test_sliding_window_layers_keep_only_their_window_from_0_10() -> None:
    """Gemma 3 27B at 128k on one H100: every layer keeping every token needs 63.5 GiB of KV cache;
    the hybrid manager keeps 1023 + 8192 scheduled tokens in 52 of its 62 layers (10 full-attention
    layers form one group of 10, the sliding ones six, the last padded)."""
    gemma = "google/gemma-3-27b-it"
    hybrid = memory(gemma, GpuType.H100_80GB)
    assert (hybrid.kv.groups, hybrid.kv.group_size, hybrid.verdict) == ((1, 6), 10, Verdict.FITS)
    assert hybrid.blocks_for(131072) == 8192 + 6 * (576 + 1)  # full: 131072 / 16; local: (1023 + 8192) / 16 + 1
    assert memory(gemma, GpuType.H100_80GB, version=VllmVersion(0, 9, 2)).verdict == Verdict.TOO_SMALL
    assert memory(gemma, GpuType.H100_80GB, hybrid_kv=False).verdict == Verdict.TOO_SMALL  # a KV connector
    assert 0 < hybrid.longest_context <= 131072


def test_the_logged_token_count_counts_requests_from_0_20_2() -> None:
    gemma = "google/gemma-3-27b-it"
    before = memory(gemma, GpuType.H100_80GB, version=VllmVersion(0, 20, 0))
    after = memory(gemma, GpuType.H100_80GB, version=VllmVersion(0, 20, 2))
    assert before.kv_capacity == before.kv_blocks // 7 * 16
    assert after.kv_capacity == int(after.kv_blocks / after.blocks_for(131072) * 131072) > before.kv_capacity


def test_chunked_local_attention_keeps_every_token_from_0_11() -> None:
    scout = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
    assert memory(scout, GpuType.H100_80GB, tensor=4, length=131072).kv.groups == (1, 0)
    assert memory(scout, GpuType.H100_80GB, tensor=4, length=131072, version=VllmVersion(0, 10, 0)).kv.groups == (1, 3)


def test_mxfp4_experts_are_padded_as_the_kernel_on_that_gpu_pads_them() -> None:
    """gpt-oss-120b: 114.66e9 expert weights at 4.25 bits and 2.17e9 bf16 ones; Marlin (compute
    capability < 9) pads hidden 2880 to 3072 and the intermediate 2880 to 2944, Hopper's Triton
    kernel pads nothing here, ROCm pads both to 3072."""
    def weights(gpu: GpuType) -> float:
        return round(memory("openai/gpt-oss-120b", gpu).weights / GIB_BYTES, 1)
    assert (weights(GpuType.H100_80GB), weights(GpuType.A100_80GB), weights(GpuType.MI300X)) == (60.8, 65.9, 68.6)


def test_flashinfer_sampling_shrinks_the_warm_up_from_0_21() -> None:
    def activation(version: VllmVersion, gpu: GpuType = GpuType.H100_80GB) -> float:
        return round(memory(LLAMA_8B, gpu, version=version, max_num_seqs=1024).activation / GIB_BYTES, 2)
    assert activation(VllmVersion(0, 20, 2)) == 4.77  # 1024 x 128256 x 39 bytes: the sort of the vocabulary
    assert activation(VllmVersion(0, 21, 0)) == 0.98  # 1024 x 128256 x 8 bytes: logits and probabilities
    assert activation(VllmVersion(0, 21, 0), GpuType.MI300X) == 4.77  # ROCm keeps the native sampler


def test_cuda_graphs_grow_with_tensor_parallelism_once_and_on_rocm() -> None:
    one, two, eight = (memory(LLAMA_70B, GpuType.H100_80GB, tensor=tp).graphs / GIB_BYTES for tp in (1, 2, 8))
    assert (round(one, 2), round(two, 2), round(eight, 2)) == (1.38, 3.08, 3.08)
    assert round(memory(LLAMA_8B, GpuType.MI300X).graphs / GIB_BYTES, 2) == round(0.0172 * 32 * 6.5, 2)


def test_a_multimodal_model_profiles_its_encoder_too() -> None:
    vision = memory("Qwen/Qwen2.5-VL-7B-Instruct", GpuType.L40S, length=32768)
    text = memory("Qwen/Qwen2.5-7B-Instruct", GpuType.L40S, length=32768)
    assert round((vision.activation - text.activation) / GIB_BYTES, 2) == 0.67


def test_a_quantized_catalog_checkpoint_is_sized_as_stored(service_data: Build) -> None:
    """The AWQ release of Llama 3.1 70B: 68.4e9 weights at 0.52 bytes, embeddings and lm_head in bf16."""
    awq = memory("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4", GpuType.H100_80GB, length=65536)
    assert round(awq.weights / GIB_BYTES, 1) == 37.0 and awq.verdict == Verdict.FITS
    assert errors(service_data(model={"id": "hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4",
                                      "quantization": "gptq"}, accelerator={"type": "H100-80GB"})) == [
        ("model.quantization", "the checkpoint of hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4 is awq: vLLM "
                               "refuses --quantization gptq for it (leave quantization unset)")]
