"""VI-CAP-001 and host memory on hand-written manifests: the GPU read from node labels, models
sized from the catalog or --model-config, and the spec's host-memory tiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli_check import invoke
from tests.test_spec_validation import Build, service_errors
from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import RuleContext
from vllm_infra.checker.runner import evaluate
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.vocabulary.units import GIB_BYTES

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten" / "capacity.yaml"
PRIVATE_13B = {"hidden_size": 5120, "num_attention_heads": 40, "num_key_value_heads": 40, "num_hidden_layers": 40,
               "vocab_size": 32000, "intermediate_size": 13824, "max_position_embeddings": 4096}


def _fit_findings(*args: str) -> tuple[int, list[tuple[str, str, str]]]:
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", "--rule", "VI-CAP-001", *args)
    return code, [(f["name"], f["severity"], f["message"]) for f in json.loads(out)["findings"]]


def test_70b_on_one_l4_pinned_by_gpu_product_does_not_fit() -> None:
    code, found = _fit_findings(str(FIXTURE))
    assert code == 1
    assert found == [("llama-70b-on-l4", "high",
                      "meta-llama/Llama-3.1-70B-Instruct (TP=1, PP=1, vLLM 0.11.0) on 1 x L4 does not fit: 131.4 GiB "
                      "of weights plus 1.3 GiB of runtime overhead exceed the 19.7 GiB budget (21.9 GiB usable on a "
                      "L4 x gpu_memory_utilization 0.9). Fits with: GPU type B200")]


def test_a_model_config_sizes_a_model_the_catalog_lacks(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(PRIVATE_13B))
    _, found = _fit_findings("--model-config", f"acme/private-13b={config}", str(FIXTURE))
    assert ("private-13b", "high",
            "acme/private-13b (TP=1, PP=1, vLLM 0.11.0) on 1 x T4 does not fit: 24.2 GiB of weights plus 0.4 GiB of "
            "runtime overhead exceed the 12.9 GiB budget (14.4 GiB usable on a T4 x gpu_memory_utilization 0.9). "
            "Fits with: GPU type A100-40GB") in found


def test_gpu_option_judges_unpinned_pods_on_that_gpu(tmp_path: Path) -> None:
    unpinned = tmp_path / "unpinned.yaml"
    unpinned.write_text(FIXTURE.read_text().replace("      nodeSelector:\n        nvidia.com/gpu.product: NVIDIA-L4\n",
                                                    ""))
    _, default = _fit_findings(str(unpinned))
    assert [(name, severity) for name, severity, _ in default] == [("llama-70b-on-l4", "medium")]
    assert default[0][2].startswith("the pod pins no GPU type and meta-llama/Llama-3.1-70B-Instruct fits only on "
                                    "B200:")
    _, on_h200 = _fit_findings("--gpu", "H200", str(unpinned))
    assert [(name, severity) for name, severity, _ in on_h200] == [("llama-70b-on-l4", "high")]
    assert "on 1 x H200 does not fit" in on_h200[0][2]


def test_bad_capacity_options_are_bad_input(tmp_path: Path) -> None:
    code, _, err = invoke("check", "--gpu", "H900", str(FIXTURE))
    assert code == 2 and "--gpu 'H900' is not a GPU type of the catalog" in err
    code, _, err = invoke("check", "--model-config", "no-equals-sign", str(FIXTURE))
    assert code == 2 and "--model-config 'no-equals-sign': expected MODEL=path/to/config.json" in err
    code, _, err = invoke("check", "--model-config", f"acme/x={tmp_path / 'missing.json'}", str(FIXTURE))
    assert code == 2 and "cannot read a model architecture from" in err


def test_host_memory_holds_the_cpu_tiers_the_flags_ask_for(service_data: Build) -> None:
    offload = service_data(image={"tag": "v0.18.1"}, model={"kv_offload": {"size_gib": 32}})
    service = VllmServiceSpec.model_validate(offload).resolved
    plain = VllmServiceSpec.model_validate(service_data(image={"tag": "v0.18.1"})).resolved
    assert service.process_memory_bytes - plain.process_memory_bytes == 32 * GIB_BYTES
    small = service_data(image={"tag": "v0.18.1"}, resources={"memory": "24Gi"},
                         model={"kv_offload": {"size_gib": 32}})
    assert service_errors(small) == [("resources.memory", "24Gi cannot hold 8.0 GiB for the vLLM processes + 32.0 GiB "
                                                          "of CPU KV cache (--kv-offloading-size) = 40Gi (plus "
                                                          "/dev/shm, added on top)")]


def test_sleep_mode_backs_up_the_weights_in_host_memory(service_data: Build) -> None:
    sleeping = VllmServiceSpec.model_validate(service_data(model={"extra_args": {"enable-sleep-mode": True}}))
    needs = sleeping.resolved.host_needs
    assert round(needs.sleep_backup / GIB_BYTES, 2) == 14.96  # Llama-3.1-8B's bf16 weights
    assert needs.describe() == "8.0 GiB for the vLLM processes + 15.0 GiB of sleep-mode weight backup " \
                               "(--enable-sleep-mode)"


def test_models_import_reads_the_checkpoint_size_beside_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**PRIVATE_13B, "tie_word_embeddings": True}))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 26031738880}}))
    code, out, _ = invoke("models", "--import", str(tmp_path / "config.json"))
    assert code == 0
    assert "checkpoint_bytes: 26031738880.0\n" in out and "tied_embeddings: true\n" in out


@pytest.mark.parametrize(("config", "problem"), [
    ({**PRIVATE_13B, "num_attention_heads": 0}, "ZeroDivisionError"),
    ([1, 2], "AttributeError"),
    ({**PRIVATE_13B, "hidden_size": 1e400}, "OverflowError"),
])
def test_models_import_refuses_nonsense_configs(tmp_path: Path, config: object, problem: str) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, _, err = invoke("models", "--import", str(tmp_path / "config.json"))
    assert code == 2 and f"cannot read a model architecture from {tmp_path / 'config.json'}: {problem}" in err


def test_a_model_outside_the_catalog_is_reported_unsized_until_its_config_is_given(tmp_path: Path) -> None:
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", "--rule", "VI-CAP-002", str(FIXTURE))
    assert (code, [(f["name"], f["severity"], f["message"]) for f in json.loads(out)["findings"]]) == (0, [
        ("private-13b", "low", "memory fit not checked: acme/private-13b is not in the model catalog")])
    config = tmp_path / "config.json"
    config.write_text(json.dumps(PRIVATE_13B))
    code, out, _ = invoke("check", "-o", "json", "--profile", "dev", "--rule", "VI-CAP-002", "--model-config",
                          f"acme/private-13b={config}", str(FIXTURE))
    assert (code, json.loads(out)["findings"]) == (0, [])


def test_a_model_config_brings_its_quantization_and_checkpoint_size(tmp_path: Path) -> None:
    """The 13B model as a 4-bit AWQ checkpoint of 7.25 GB fits the T4 its bf16 weights overflow."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**PRIVATE_13B, "quantization_config": {"quant_method": "awq", "bits": 4,
                                                                         "group_size": 128}}))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 7_250_000_000}}))
    _, found = _fit_findings("--model-config", f"acme/private-13b={config}", str(FIXTURE))
    assert [name for name, _, _ in found] == ["llama-70b-on-l4"]


def test_a_config_with_linear_attention_is_refused_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**PRIVATE_13B, "layer_types": ["linear_attention"] * 30 + ["full_attention"] * 10}))
    code, _, err = invoke("check", "--model-config", f"acme/next={config}", str(FIXTURE))
    assert code == 2 and "30 of 40 layers keep a per-sequence state" in err
    code, _, err = invoke("models", "--import", str(config))
    assert code == 2 and f"cannot size {config}: 30 of 40 layers" in err


def _connector_server(*extra: str) -> dict[str, object]:
    """gpt-oss-120b (sliding-window layers) on one pinned H100 behind a NIXL connector."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "g", "namespace": "llm"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.20.2", "command": ["vllm", "serve"],
                                "args": ["openai/gpt-oss-120b", "--max-model-len=131072",
                                         '--kv-transfer-config={"kv_connector":"NixlConnector","kv_role":"kv_both"}',
                                         *extra],
                                "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}


@pytest.mark.parametrize(("extra", "tokens"), [
    ((), "64720"),  # unset: a connector turns the hybrid manager off, every layer keeps every token
    (("--no-disable-hybrid-kv-cache-manager",), "121700"),  # explicitly kept on (llm-d's P/D guides)
    (("--disable-hybrid-kv-cache-manager",), "64720"),
])
def test_the_hybrid_kv_manager_setting_is_three_way(extra: tuple[str, ...], tokens: str) -> None:
    [finding] = evaluate([_connector_server(*extra)], [RULES["VI-CAP-001"]], RuleContext())
    assert f"of KV cache holds {tokens} tokens" in finding.message


def _pinned_server(gpus: int, model: str, *args: str) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "g", "namespace": "llm"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.20.2", "command": ["vllm", "serve"],
                                "args": [model, "--max-model-len=32768", *args],
                                "resources": {"limits": {"nvidia.com/gpu": gpus}}}]}}}}


@pytest.mark.parametrize(("server", "expected"), [
    # each data-parallel rank is an engine of TP x PP GPUs, sized as one
    (_pinned_server(2, "meta-llama/Llama-3.1-70B-Instruct", "--data-parallel-size=2"),
     [("VI-CAP-001", "meta-llama/Llama-3.1-70B-Instruct (TP=1, PP=1, vLLM 0.20.2) on 1 x H100-80GB does not fit")]),
    (_pinned_server(2, "meta-llama/Llama-3.1-8B-Instruct", "--data-parallel-size=2"), []),
    # the pod runs 8 of 16 ranks; the others join through --data-parallel-address
    (_pinned_server(8, "meta-llama/Llama-3.1-8B-Instruct", "--data-parallel-size=16", "--data-parallel-size-local=8"),
     []),
    (_pinned_server(4, "meta-llama/Llama-3.1-8B-Instruct", "--data-parallel-size=2"),
     [("VI-GPU-002", "TP x PP x DP = 2 but the group has 4 GPUs per pod = 4")]),
    (_pinned_server(2, "Qwen/Qwen3-30B-A3B", "--data-parallel-size=2", "--enable-expert-parallel"),
     [("VI-CAP-002", "memory fit not checked: Qwen/Qwen3-30B-A3B: expert parallelism over 2 data-parallel ranks "
                     "splits the experts between them, and that per-GPU share of the weights is not modelled")]),
])
def test_data_parallel_ranks_are_sized_per_rank(server: dict[str, object], expected: list[tuple[str, str]]) -> None:
    found = evaluate([server], [RULES[rule] for rule in ("VI-GPU-002", "VI-CAP-001", "VI-CAP-002")], RuleContext())
    assert [(f.rule.id, f.message[:len(message)]) for f, (_rule, message) in zip(found, expected, strict=False)] == \
        expected
    assert len(found) == len(expected)
