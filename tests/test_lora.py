"""LoRA adapters and the KV offload tier as typed features: what they render, what they take in GPU
and host memory, what the spec refuses, and the checker on hand-written servers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from vllm_infra.capacity.lora import lora_gpu_bytes, lora_slot_elements
from vllm_infra.catalog.architectures import MODEL_CATALOG
from vllm_infra.checker.pipeline import Status
from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import RuleContext
from vllm_infra.checker.runner import check_objects, evaluate
from vllm_infra.render import render_fleet
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile
from vllm_infra.vocabulary.units import GIB_BYTES

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
SQL = {"name": "sql", "source": "acme/llama-3.1-8b-sql-lora", "revision": "1" * 40, "rank": 16}
CHAT = {"name": "chat", "source": "acme/llama-3.1-8b-chat-lora", "revision": "2" * 40, "rank": 64}


def service(**changes: Any) -> dict[str, Any]:
    return deep_update(MINIMAL_SERVICE, deep_update({"image": {"tag": "v0.20.2", "unpinned_reason": "no digest yet"},
                                                     "accelerator": {"type": "L40S"},
                                                     "scheduling": {"priority_class": "llm-serving"}}, changes))


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def rendered(data: dict[str, Any]) -> list[dict[str, Any]]:
    return render_fleet(FleetSpec.model_validate({"environment": "dev", "policy_profile": "dev",
                                                  "namespace": {"name": "llm"}, "services": [data]}))


def deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == "Deployment")


def test_one_slot_is_the_a_and_b_buffers_of_every_projection() -> None:
    """Llama-3.1-8B, rank 16, TP 1: per layer 16 x (qkv 3 x 4096 + 6144, gate_up 2 x 4096 + 28672,
    o 4096 + 4096, down 14336 + 4096) = 16 x 81920 elements; 32 layers in bf16 = 80 MiB a slot."""
    arch = MODEL_CATALOG[LLAMA_8B]
    assert lora_slot_elements(arch, 1, 16) == 16 * 81920 * 32
    assert lora_gpu_bytes(arch, 1, 4, 16) == 4 * 80 * 2**20
    assert lora_gpu_bytes(arch, 2, 4, 16) < lora_gpu_bytes(arch, 1, 4, 16)  # output shards split over TP


def test_adapters_render_as_flags_and_a_pinned_fetch() -> None:
    objects = rendered(service(lora={"adapters": [SQL, CHAT], "max_loras": 2}))
    pod = deployment(objects)["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[-6:] == ["--enable-lora", "--max-loras=2", "--max-lora-rank=64", "--lora-modules",
                         "sql=/model-cache/lora/sql", "chat=/model-cache/lora/chat"]
    [fetch] = pod["initContainers"]
    assert fetch["name"] == "fetch-adapters" and fetch["image"] == pod["containers"][0]["image"]
    assert fetch["command"][-1] == ('[["acme/llama-3.1-8b-sql-lora","' + "1" * 40 + '","/model-cache/lora/sql"],'
                                    '["acme/llama-3.1-8b-chat-lora","' + "2" * 40 + '","/model-cache/lora/chat"]]')
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in fetch["env"]


def test_the_slots_are_counted_in_the_fit_and_the_host_cache_in_the_pod() -> None:
    plain = VllmServiceSpec.model_validate(service()).resolved
    lora = VllmServiceSpec.model_validate(service(lora={"adapters": [SQL], "max_loras": 4,
                                                        "max_cpu_loras": 8})).resolved
    assert plain.memory_estimate is not None and lora.memory_estimate is not None
    assert lora.memory_estimate.weights - plain.memory_estimate.weights == 4 * 80 * 2**20
    assert lora.host_needs.lora_cache == 8 * 80 * 2**20
    assert "of CPU LoRA cache (--max-cpu-loras)" in lora.host_needs.describe()


@pytest.mark.parametrize(("lora", "expected"), [
    ({"adapters": [CHAT], "max_lora_rank": 32}, ("lora.adapters[0].rank", "adapter chat has rank 64, above the slots' "
                                                 "--max-lora-rank 32: vLLM refuses to load it")),
    ({"adapters": [SQL], "max_lora_rank": 24}, ("lora.max_lora_rank", "vLLM 0.20.2 accepts --max-lora-rank 1, 8, 16, "
                                                "32, 64, 128, 256, 320, 512")),
    ({"adapters": [{**SQL, "name": LLAMA_8B}]}, ("lora.adapters[0].name", f"adapter {LLAMA_8B} is named like the base "
                                                 "model: requests naming it reach the base model, never the adapter")),
    ({"adapters": [SQL, SQL]}, ("lora.adapters[1].name", "adapter sql is listed twice: vLLM refuses to load an adapter "
                                                         "name again and stops at start")),
    ({"adapters": [SQL], "max_loras": 4, "max_cpu_loras": 2}, ("lora.max_cpu_loras", "must be at least max_loras (4): "
                                                               "vLLM refuses fewer host slots than GPU slots")),
    ({"runtime_loading": True}, ("lora.runtime_loading_reason", "say why API clients may load adapters (reviewers "
                                                                "see it as the VI-LORA-001 waiver)")),
], ids=["rank-above-slots", "rank-the-release-refuses", "named-like-the-base", "twice", "fewer-host-slots",
        "runtime-without-reason"])
def test_what_vllm_would_refuse_is_refused(lora: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors(service(lora=lora))


def test_runtime_loading_renders_with_its_waiver_and_passes_check() -> None:
    data = service(lora={"runtime_loading": True, "runtime_loading_reason": "tenant adapters, loaded by the control "
                                                                            "plane only"})
    objects = rendered(data)
    container = deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in container["env"]
    report = check_objects(objects, "lora", profile=Profile.DEV)
    assert [(f.rule.id, f.status) for f in report.findings if f.rule.id == "VI-LORA-001"] == [
        ("VI-LORA-001", Status.WAIVED)]
    assert report.gating() == []


def test_the_kv_offload_tier_renders_counts_and_needs_its_release() -> None:
    data = service(model={"kv_offload": {"size_gib": 64}})
    args = deployment(rendered(data))["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if "offloading" in a] == ["--kv-offloading-size=64", "--kv-offloading-backend=native"]
    resolved = VllmServiceSpec.model_validate(data).resolved
    assert resolved.host_needs.kv_offload == 64 * GIB_BYTES
    assert resolved.serving_settings is not None and resolved.serving_settings.hybrid_kv is False
    assert errors(service(image={"tag": "v0.11.0"}, model={"kv_offload": {"size_gib": 64}})) == [
        ("model.kv_offload", "--kv-offloading-size is not a flag of vLLM 0.11.0 (added in 0.11.1)")]


SERVER: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llama", "namespace": "llm"},
    "spec": {"selector": {"matchLabels": {"app": "llama"}}, "template": {
        "metadata": {"labels": {"app": "llama"}},
        "spec": {"containers": [{
            "name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "command": ["vllm", "serve"],
            "args": [LLAMA_8B, "--enable-lora", "--max-loras", "2", "--max-lora-rank", "64",
                     "--lora-modules", "sql=/adapters/sql", '{"name": "chat", "path": "/adapters/chat"}'],
            "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}


def lora_findings(mutate: Callable[[dict[str, Any]], object]) -> list[tuple[str, str]]:
    obj = copy.deepcopy(SERVER)
    mutate(obj["spec"]["template"]["spec"]["containers"][0])
    return [(str(f.severity), f.message) for f in evaluate([obj], [RULES["VI-LORA-001"]], RuleContext())]


def test_a_server_that_loads_its_adapters_passes() -> None:
    assert lora_findings(lambda c: None) == []


LORA_CASES: list[tuple[Callable[[dict[str, Any]], object], tuple[str, str]]] = [
    (lambda c: c["args"].remove("--enable-lora"),
     ("critical", "vLLM refuses to start: --lora-modules are loaded at start and LoRA is not enabled (--enable-lora)")),
    (lambda c: c["args"].__setitem__(5, "24"),
     ("critical", "vLLM refuses to start: --max-lora-rank 24 is not one of 8, 16, 32, 64, 128, 256, 320, 512 (vLLM "
                  "0.11.0)")),
    (lambda c: c["args"].extend(["--max-cpu-loras", "1"]),
     ("critical", "vLLM refuses to start: --max-cpu-loras 1 is below --max-loras 2")),
    (lambda c: c["args"].__setitem__(7, "chat=/adapters/sql"),
     ("critical", "vLLM refuses to start: adapter chat is loaded twice")),
    (lambda c: c["args"].__setitem__(7, f"{LLAMA_8B}=/adapters/sql"),
     ("high", f"adapter {LLAMA_8B} is named like the base model: requests naming it reach the base model, never the "
              "adapter")),
    (lambda c: c.update(env=[{"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"}]),
     ("medium", "VLLM_ALLOW_RUNTIME_LORA_UPDATING lets any API client load an adapter from a repository or path of its "
                "choice")),
]


@pytest.mark.parametrize(("mutate", "expected"), LORA_CASES,
                         ids=["not-enabled", "rank-refused", "fewer-host-slots", "twice", "named-like-the-base",
                              "runtime-loading"])
def test_each_lora_mistake_is_found(mutate: Callable[[dict[str, Any]], object], expected: tuple[str, str]) -> None:
    assert lora_findings(mutate) == [expected]
