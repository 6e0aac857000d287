"""GPUs through dynamic resource allocation: what the spec refuses, the ResourceClaimTemplate and
claims rendered, the checker sizing and placing DRA pods (no longer skipping them), and NVIDIA's
published claim pattern written by hand."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from tests.rule_fixtures import container, good_objects, pod
from tests.test_rules import claim_gpus
from vllm_infra.checker.rules import RULES, RuleContext, evaluate
from vllm_infra.checker.runner import check_objects
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.render import render_fleet
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile, Severity

H100_POOLS = [{"name": "system", "cpu": "8", "memory": "32Gi", "nodes": 1},
              {"name": "h100", "gpu": "H100-80GB", "cpu": "190", "memory": "1900Gi", "ephemeral_storage": "2Ti",
               "nodes": 1}]
LLAMA_70B = {"id": "meta-llama/Llama-3.1-70B-Instruct", "revision": "1" * 40, "max_model_len": 8192}


def fleet(version: str = "1.34", pools: list[dict[str, Any]] | None = None, **changes: Any) -> FleetSpec:
    service = deep_update(MINIMAL_SERVICE, deep_update({
        "name": "llama", "model": LLAMA_70B, "accelerator": {"type": "H100-80GB", "claim": True},
        "parallelism": {"tensor": 4}, "scheduling": {"priority_class": "llm-serving"}}, changes))
    return FleetSpec.model_validate({"environment": "dev", "policy_profile": "dev", "namespace": {"name": "llm"},
                                     "kubernetes_version": version, "services": [service],
                                     **({"cluster": {"node_pools": pools}} if pools else {})})


def errors(call: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        call()
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def test_claims_need_a_dra_driver_for_the_gpu_and_kubernetes_1_34() -> None:
    assert errors(lambda: fleet(accelerator={"type": "MI300X"}, model={"id": "meta-llama/Llama-3.1-8B-Instruct"},
                                parallelism={"tensor": 1})) == [
        ("services[0].accelerator.claim", "no catalogued DRA driver hands out MI300X GPUs (DeviceClasses: "
                                          "gpu.nvidia.com)")]
    assert errors(lambda: fleet("1.33")) == [
        ("services[0].accelerator.claim", "DRA claims (resource.k8s.io/v1) need Kubernetes 1.34 or later; the fleet's "
                                          "kubernetes_version is 1.33")]


def test_a_claiming_service_renders_its_template_and_names_it_in_pod_and_container() -> None:
    objects = render_fleet(fleet())
    template = next(obj for obj in objects if obj["kind"] == "ResourceClaimTemplate")
    assert (template["apiVersion"], template["metadata"]["name"], template["spec"]) == (
        "resource.k8s.io/v1", "llama-gpus", {"spec": {"devices": {"requests": [
            {"name": "gpus", "exactly": {"deviceClassName": "gpu.nvidia.com", "allocationMode": "ExactCount",
                                         "count": 4}}]}}})
    spec = next(obj for obj in objects if obj["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["resourceClaims"] == [{"name": "gpus", "resourceClaimTemplateName": "llama-gpus"}]
    resources = spec["containers"][0]["resources"]
    assert resources["claims"] == [{"name": "gpus"}]
    assert "nvidia.com/gpu" not in resources["requests"] and "nvidia.com/gpu" not in resources["limits"]
    report = check_objects(objects, "dra", profile=Profile.DEV, kubernetes_version="1.34")
    assert [(f.rule.id, f.message) for f in report.gating()] == []
    older = check_objects(objects, "dra", profile=Profile.DEV, kubernetes_version="1.33")
    assert [(f.rule.id, f.message) for f in older.gating()] == [
        ("VI-SCH-006", "Kubernetes 1.33 defines ResourceClaimTemplate in resource.k8s.io/v1alpha3, "
                       "resource.k8s.io/v1beta1, resource.k8s.io/v1beta2, not resource.k8s.io/v1: the API server "
                       "refuses it")]


def test_the_simulation_places_claimed_gpus_like_counted_ones() -> None:
    """Two 4-GPU replicas on one 8-GPU node fit; three do not, claimed or counted."""
    for claim in (True, False):
        spec = fleet(pools=copy.deepcopy(H100_POOLS), accelerator={"claim": claim}, availability={"replicas": 3})
        assert spec.cluster is not None
        report = check_objects(render_fleet(spec), "dra", profile=Profile.DEV, kubernetes_version="1.34",
                               cluster=cluster_of(spec.cluster))
        [minimum] = [f.message for f in report.findings if f.rule.id == "VI-CLU-001" and "minimum" in f.message]
        assert minimum.startswith("minimum on the declared cluster blocked: 2 of 3 replica(s) placed"), claim


def test_a_claiming_pod_is_sized_and_its_claim_checked() -> None:
    """Written as NVIDIA's DRA driver documents it: a ResourceClaimTemplate of gpu.nvidia.com and a pod
    claiming it. The 70B model on two L4s is sized as any other pod (it does not fit) and a claim of one
    GPU for TP 2 is found."""
    objects = good_objects()
    claim_gpus(objects, 2)
    pod(objects)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                                     "values": ["NVIDIA-L4"]}]}]}
    context = RuleContext(kubernetes_version="1.34")
    found = [(f.rule.id, f.message) for f in evaluate(objects, RULES.values(), context)
             if f.severity.rank >= Severity.HIGH.rank]
    assert [rule for rule, message in found if rule == "VI-CAP-001" and "on 2 x L4 does not fit" in message]
    assert [rule for rule, _message in found if rule == "VI-GPU-006"] == []
    container(objects)["args"][4] = "--tensor-parallel-size=1"
    assert [message for rule, message in ((f.rule.id, f.message) for f in evaluate(objects, RULES.values(), context))
            if rule == "VI-GPU-006"] == ["the pod's DRA claims hand out 2 GPU(s) of a GPU DeviceClass, but vLLM uses "
                                         "1 on this pod (TP x PP x DP over --nnodes)"]
    objects.remove(next(obj for obj in objects if obj["kind"] == "ResourceClaimTemplate"))
    assert [(f.severity.value, f.message) for f in evaluate(objects, [RULES["VI-GPU-006"]], context)] == [
        ("low", "a DRA claim's ResourceClaimTemplate is not among the manifests, or asks for all devices of a class: "
                "the GPUs vLLM gets are unchecked")]


def test_a_claim_on_a_pod_pinned_to_no_gpu_model_is_not_taken_for_gpus() -> None:
    """llm-d's DRA sample claims Intel Gaudi devices (gaudi.intel.com): a vLLM pod whose claims may be
    any device is judged as before, not as a GPU pod that pins no GPU model or lacks the GPU taint's
    toleration."""
    objects = good_objects()
    claim_gpus(objects, 2)
    template = next(obj for obj in objects if obj["kind"] == "ResourceClaimTemplate")
    template["spec"]["spec"]["devices"]["requests"][0]["exactly"]["deviceClassName"] = "gaudi.intel.com"
    pod(objects).pop("affinity")
    pod(objects).pop("tolerations")
    context = RuleContext(kubernetes_version="1.34")
    assert [(f.rule.id, f.message) for f in evaluate(objects, [RULES["VI-GPU-003"], RULES["VI-GPU-006"],
                                                               RULES["VI-CAP-001"]], context)
            if "llama" in f.obj["metadata"]["name"]] == []
