"""Targeted assertions on what the pure renderer produces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vllm_infra.render import PatchError, RenderContext, render_fleet, render_service
from vllm_infra.render.pod import engine_args
from vllm_infra.spec import FleetSpec, VllmServiceSpec

Build = Callable[..., dict[str, Any]]
CONTEXT = RenderContext(namespace="llm", part_of="fleet", environment="dev")


def render(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    objects = render_service(VllmServiceSpec.model_validate(data), CONTEXT)
    return {obj["kind"]: obj for obj in objects}


def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    return containers[0]


def env_of(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(objects)["env"]}


def test_minimal_service_objects_in_apply_order(service_data: Build) -> None:
    objects = render_service(VllmServiceSpec.model_validate(service_data()), CONTEXT)
    assert [obj["kind"] for obj in objects] == ["ServiceAccount", "Service", "Deployment", "PodDisruptionBudget",
                                                "NetworkPolicy"]
    assert {obj["metadata"]["namespace"] for obj in objects} == {"llm"}


def test_selectors_use_only_a_label_no_delivery_tool_rewrites(service_data: Build) -> None:
    objects = render(service_data())
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert selector == {"vllm-infra.io/service": "llama-8b"}
    assert objects["Service"]["spec"]["selector"] == selector
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "0.11.0"
    assert labels["app.kubernetes.io/part-of"] == "fleet"
    assert labels["vllm-infra.io/environment"] == "dev"


def test_engine_args_map_each_typed_field_once(service_data: Build) -> None:
    service = VllmServiceSpec.model_validate(service_data(
        accelerator={"type": "H100-80GB"}, parallelism={"tensor": 4},
        model={"served_name": "llama", "max_model_len": 8192, "dtype": "float16", "quantization": "fp8",
               "kv_cache_dtype": "fp8", "trust_remote_code": True, "trust_remote_code_reason": "reviewed",
               "extra_args": {"enable-prefix-caching": True, "enable-chunked-prefill": False,
                              "max-num-batched-tokens": 8192}}))
    revision = service.model.revision
    assert engine_args(service.resolved) == [
        "meta-llama/Llama-3.1-8B-Instruct", f"--revision={revision}", "--served-model-name=llama", "--port=8000",
        "--tensor-parallel-size=4", "--pipeline-parallel-size=1", "--gpu-memory-utilization=0.9",
        "--max-num-seqs=256", "--max-model-len=8192", "--dtype=float16", "--quantization=fp8",
        "--kv-cache-dtype=fp8", "--trust-remote-code", f"--code-revision={revision}",
        "--no-enable-chunked-prefill", "--enable-prefix-caching", "--max-num-batched-tokens=8192",
    ]


def test_shutdown_timeout_only_on_releases_that_have_it(service_data: Build) -> None:
    old = engine_args(VllmServiceSpec.model_validate(service_data(image={"tag": "v0.17.1"})).resolved)
    new = engine_args(VllmServiceSpec.model_validate(service_data(image={"tag": "v0.18.0"})).resolved)
    assert not any(arg.startswith("--shutdown-timeout") for arg in old)
    assert "--shutdown-timeout=60" in new


def test_gpu_requests_equal_limits_and_memory_counts_shm(service_data: Build) -> None:
    objects = render(service_data(accelerator={"type": "H100-80GB"}, parallelism={"tensor": 4},
                                  resources={"memory": "64Gi"}))
    resources = container(objects)["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == 4
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "72Gi"  # 64Gi + 8Gi shm
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "8Gi"}
    assert "cpu" not in resources["limits"]


def test_amd_gpus_use_their_resource_and_labels(service_data: Build) -> None:
    objects = render(service_data(accelerator={"type": "MI300X"}))
    assert container(objects)["resources"]["limits"]["amd.com/gpu"] == 1
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == [{"matchExpressions": [{"key": "amd.com/gpu.product-name", "operator": "In",
                                           "values": ["AMD_Instinct_MI300X_OAM"]}]}]
    assert pod["tolerations"] == [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.mark.parametrize(("platform", "expressions"), [
    ("gke", [{"key": "cloud.google.com/gke-accelerator", "operator": "In", "values": ["nvidia-l4"]}]),
    ("karpenter", [{"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": ["l4"]}]),
    ("eks-auto", [{"key": "eks.amazonaws.com/instance-gpu-name", "operator": "In", "values": ["l4"]}]),
])
def test_gpu_affinity_per_platform(service_data: Build, platform: str, expressions: list[Any]) -> None:
    objects = render(service_data(accelerator={"type": "L4", "platform": platform},
                                  scheduling={"required_nodes": [{"key": "pool", "values": ["serving"]}]}))
    affinity = objects["Deployment"]["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [*expressions, {"key": "pool", "operator": "In", "values": ["serving"]}]}]


def test_probes_guard_model_loading(service_data: Build) -> None:
    probes = container(render(service_data(lifecycle={"startup_timeout": "30m"})))
    assert probes["startupProbe"] == {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10,
                                      "timeoutSeconds": 5, "failureThreshold": 180}
    assert probes["readinessProbe"]["httpGet"] == probes["livenessProbe"]["httpGet"]
    assert probes["readinessProbe"] != probes["livenessProbe"]
    assert "initialDelaySeconds" not in probes["livenessProbe"]


def test_drain_grace_covers_prestop_and_requests(service_data: Build) -> None:
    objects = render(service_data(image={"tag": "v0.18.1"},
                                  lifecycle={"drain": {"endpoint_delay": "20s", "request_timeout": "2m"}}))
    assert container(objects)["lifecycle"] == {"preStop": {"sleep": {"seconds": 20}}}
    assert container(objects)["args"][-1] == "--shutdown-timeout=120"
    assert objects["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 155


def test_restricted_security_with_writable_caches(service_data: Build) -> None:
    objects = render(service_data())
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert objects["ServiceAccount"]["automountServiceAccountToken"] is False
    sec = container(objects)["securityContext"]
    assert sec == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                   "capabilities": {"drop": ["ALL"]}}
    env = env_of(objects)
    mounts = [m["mountPath"] for m in container(objects)["volumeMounts"]]
    for name in ("HOME", "HF_HOME", "XDG_CACHE_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR",
                 "TORCHINDUCTOR_CACHE_DIR", "NUMBA_CACHE_DIR"):
        assert any(env[name].startswith(path) for path in mounts), name


def test_hf_token_is_a_mounted_secret_file(service_data: Build) -> None:
    objects = render(service_data(storage={"hf_token_secret": {"name": "hf", "key": "tok"}}))
    env = env_of(objects)
    assert "HF_TOKEN" not in env
    assert env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/token"
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["hf-token"] == {"name": "hf-token", "secret": {"secretName": "hf",
                                                                   "items": [{"key": "tok", "path": "token"}]}}
    assert {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True} in container(
        objects)["volumeMounts"]


def test_offline_cache_is_read_only_and_compile_cache_moves(service_data: Build) -> None:
    objects = render(service_data(storage={"model_cache": {"type": "existingClaim", "claim_name": "weights",
                                                           "offline": True}}))
    env = env_of(objects)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CACHE_ROOT"].startswith("/tmp")
    volumes = {v["name"]: v for v in objects["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert "PersistentVolumeClaim" not in objects


def test_pvc_cache_rendered_with_its_claim(service_data: Build) -> None:
    objects = render(service_data(storage={"model_cache": {"type": "pvc", "size": "200Gi",
                                                           "storage_class": "nfs"}}))
    assert objects["PersistentVolumeClaim"]["metadata"]["name"] == "llama-8b-model-cache"
    assert objects["PersistentVolumeClaim"]["spec"] == {"accessModes": ["ReadWriteMany"], "storageClassName": "nfs",
                                                        "resources": {"requests": {"storage": "200Gi"}}}
    # no disk-backed cache on the node: ephemeral storage covers /tmp plus logs only
    assert container(objects)["resources"]["limits"]["ephemeral-storage"] == "10Gi"


def test_autoscaled_workload_leaves_replicas_to_the_hpa(service_data: Build) -> None:
    objects = render(service_data(autoscaling={"min_replicas": 2, "max_replicas": 5},
                                  lifecycle={"startup_timeout": "20m"}))
    assert "replicas" not in objects["Deployment"]["spec"]
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-8b"}
    assert hpa["metrics"] == [{"type": "Pods", "pods": {"metric": {"name": "vllm_num_requests_waiting"},
                                                        "target": {"type": "AverageValue", "averageValue": "5"}}}]
    assert hpa["behavior"]["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 1200}]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_kv_cache_metric_follows_vllm_release(service_data: Build) -> None:
    def metric(tag: str) -> Any:
        objects = render(service_data(image={"tag": tag}, autoscaling={"max_replicas": 2,
                                                                       "metric": "kv-cache-usage"}))
        return objects["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"]

    assert metric("v0.9.1")["metric"]["name"] == "vllm_gpu_cache_usage_perc"
    assert metric("v0.11.0") == {"metric": {"name": "vllm_kv_cache_usage_perc"},
                                 "target": {"type": "AverageValue", "averageValue": "700m"}}


def test_pdb_always_lets_one_pod_go(service_data: Build) -> None:
    objects = render(service_data(availability={"replicas": 3, "disruption_budget": {"min_available": 2}}))
    assert objects["PodDisruptionBudget"]["spec"] == {
        "selector": {"matchLabels": {"vllm-infra.io/service": "llama-8b"}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow", "minAvailable": 2}


def test_spread_and_classes(service_data: Build) -> None:
    pod = render(service_data(scheduling={"spread_nodes": "required", "spread_zones": "off",
                                          "priority_class": "serving", "runtime_class": "nvidia"}))[
        "Deployment"]["spec"]["template"]["spec"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in pod["topologySpreadConstraints"]] == [
        ("kubernetes.io/hostname", "DoNotSchedule")]
    assert pod["priorityClassName"] == "serving"
    assert pod["runtimeClassName"] == "nvidia"


def test_network_policy_and_service_monitor(service_data: Build) -> None:
    objects = render(service_data(network_policy={"enabled": True, "api_client_namespaces": ["gw"]},
                                  metrics={"service_monitor": True, "service_monitor_labels": {"release": "p"}}))
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    allowed = policy["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert allowed == ["gw", "llm"]
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in policy["egress"]
    monitor = objects["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "p"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_patches_apply_after_render(service_data: Build) -> None:
    objects = render(service_data(patches=[{"kind": "Deployment", "operations": [
        {"op": "add", "path": "/spec/template/spec/hostAliases", "value": [{"ip": "10.0.0.1",
                                                                            "hostnames": ["hf.local"]}]},
        {"op": "remove", "path": "/metadata/annotations/vllm-infra.io~1model"}]}]))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["hostAliases"] == [{"ip": "10.0.0.1", "hostnames": ["hf.local"]}]
    assert "vllm-infra.io/model" not in objects["Deployment"]["metadata"]["annotations"]


def test_patch_on_missing_object_is_an_error(service_data: Build) -> None:
    with pytest.raises(PatchError, match=r"services\[llama-8b\]\.patches\[0\]: no rendered HorizontalPodAutoscaler/"
                                         r"llama-8b \(rendered: Deployment/llama-8b, NetworkPolicy/llama-8b, "
                                         r"PodDisruptionBudget/llama-8b, Service/llama-8b, ServiceAccount/llama-8b\)"):
        render(service_data(patches=[{"kind": "HorizontalPodAutoscaler",
                                      "operations": [{"op": "remove", "path": "/spec"}]}]))


def test_fleet_renders_namespace_with_pod_security(service_data: Build) -> None:
    fleet = FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"},
                                      "defaults": {"image": {"digest": "sha256:" + "a" * 64}},
                                      "services": [service_data(), service_data(name="qwen")]})
    objects = render_fleet(fleet)
    assert objects[0]["kind"] == "Namespace"
    assert objects[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    kinds_and_names = [(obj["kind"], obj["metadata"]["name"]) for obj in objects[1:]]
    assert kinds_and_names == [(kind, name) for kind in ("ServiceAccount", "Service", "Deployment",
                                                         "PodDisruptionBudget", "NetworkPolicy")
                               for name in ("llama-8b", "qwen")]


def test_rendering_is_deterministic_and_pure(service_data: Build) -> None:
    service = VllmServiceSpec.model_validate(service_data(autoscaling={"max_replicas": 3}))
    first = render_service(service, CONTEXT)
    first[0]["metadata"]["labels"]["mutated"] = "yes"
    assert render_service(service, CONTEXT) != first
    assert render_service(service, CONTEXT) == render_service(service, CONTEXT)
