"""Autoscaling on vLLM metrics (HPA, KEDA, scale-to-zero, schedules), rollouts chosen from spare
GPUs, multi-node LeaderWorkerSets and Inference Extension routing: spec checks and rendering."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import deep_update
from vllm_infra.checker.rules import RULES, evaluate
from vllm_infra.checker.schemas.validator import SchemaValidator
from vllm_infra.render import RenderContext, render_service
from vllm_infra.spec import FleetSpec, VllmServiceSpec
from vllm_infra.vocabulary.paths import format_path

Build = Callable[..., dict[str, Any]]
CONTEXT = RenderContext(namespace="llm", part_of="fleet", environment="prod")
PROMETHEUS = "http://prometheus.monitoring:9090"
VALIDATOR = SchemaValidator()
KEDA = {"backend": "keda", "prometheus_url": PROMETHEUS, "max_replicas": 3}
MULTI_NODE = {"model": {"id": "meta-llama/Llama-3.1-405B-Instruct", "max_model_len": 32768},
              "accelerator": {"type": "H100-80GB"}, "parallelism": {"tensor": 8, "pipeline": 2, "nodes": 2},
              "storage": {"model_cache": {"type": "pvc", "size": "1Ti"}}}


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def render(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    objects = render_service(VllmServiceSpec.model_validate(data), CONTEXT)
    for obj in objects:
        assert VALIDATOR.validate(obj) == [], obj["kind"]
    return {obj["kind"]: obj for obj in objects}


def test_keda_scales_on_queue_depth_with_the_model_label(service_data: Build) -> None:
    objects = render(service_data(autoscaling={**KEDA, "min_replicas": 1}))
    scaled = objects["ScaledObject"]["spec"]
    assert "HorizontalPodAutoscaler" not in objects
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-8b"}
    assert scaled["triggers"] == [{"type": "prometheus", "name": "queue-depth", "metadata": {
        "serverAddress": PROMETHEUS, "threshold": "5",
        "query": 'sum(vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct",namespace="llm"})'}}]
    assert scaled["cooldownPeriod"] == 300
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 600}]


def test_kv_cache_metric_name_follows_the_image(service_data: Build) -> None:
    def query(tag: str) -> str:
        objects = render(service_data(image={"tag": tag}, autoscaling={**KEDA, "metric": "kv-cache-usage"}))
        return str(objects["ScaledObject"]["spec"]["triggers"][0]["metadata"]["query"])

    assert query("v0.9.1").startswith("sum(vllm:gpu_cache_usage_perc{")
    assert query("v0.10.0").startswith("sum(vllm:kv_cache_usage_perc{")  # both emitted; prefer the new name
    assert query("v0.11.0").startswith("sum(vllm:kv_cache_usage_perc{")


def test_scale_to_zero_needs_keda_and_an_activator(service_data: Build) -> None:
    assert errors(service_data(autoscaling={"min_replicas": 0, "max_replicas": 2})) == [
        ("autoscaling.min_replicas", "scale-to-zero needs backend: keda (an HPA never goes below 1)")]
    assert errors(service_data(autoscaling={**KEDA, "min_replicas": 0})) == [
        ("autoscaling.activation", "scale-to-zero needs an activation query: at zero replicas vLLM emits no metrics, "
                                   "so nothing could wake the service")]


def test_scale_to_zero_renders_an_activation_trigger(service_data: Build) -> None:
    activation = {"query": "sum(rate(gateway_requests_total[2m]))", "threshold": 2}
    objects = render(service_data(autoscaling={**KEDA, "min_replicas": 0, "activation": activation}))
    spec = objects["ScaledObject"]["spec"]
    assert spec["minReplicaCount"] == 0
    assert spec["triggers"][1] == {"type": "prometheus", "name": "activation", "metadata": {
        "serverAddress": PROMETHEUS, "query": "sum(rate(gateway_requests_total[2m]))", "threshold": "2",
        "activationThreshold": "0"}}
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1  # evicts the one replica when it runs
    assert "replicas" not in objects["Deployment"]["spec"]


def test_scale_to_zero_rejects_a_min_available_pdb(service_data: Build) -> None:
    activation = {"query": "sum(rate(gateway_requests_total[2m]))"}
    data = service_data(autoscaling={**KEDA, "min_replicas": 0, "activation": activation},
                        availability={"disruption_budget": {"enabled": True, "min_available": 1}})
    assert errors(data) == [("availability.disruption_budget.min_available",
                             "min_available (1) blocks every drain while a single replica runs (the service scales "
                             "down to 0)")]
    harmless = service_data(autoscaling={**KEDA, "min_replicas": 0, "activation": activation},
                            availability={"disruption_budget": {"min_available": 0}})
    assert VllmServiceSpec.model_validate(harmless).availability.disruption_budget.min_available == 0


def test_business_hours_window_is_a_cron_trigger(service_data: Build) -> None:
    window = {"name": "business-hours", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5", "timezone": "Europe/Berlin",
              "min_replicas": 2}
    objects = render(service_data(autoscaling={**KEDA, "schedules": [window]}))
    assert objects["ScaledObject"]["spec"]["triggers"][1] == {"type": "cron", "name": "business-hours", "metadata": {
        "timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5", "desiredReplicas": "2"}}
    assert errors(service_data(autoscaling={**KEDA, "schedules": [{**window, "min_replicas": 5}]})) == [
        ("autoscaling.schedules[0].min_replicas", "min_replicas (5) exceeds max_replicas (3)")]


def test_keda_and_hpa_options_do_not_mix(service_data: Build) -> None:
    """One model per backend: each accepts only its own fields (stack files say which backend has
    a field: tests/test_stacks_loader.py)."""
    assert errors(service_data(autoscaling={"backend": "keda", "max_replicas": 2})) == [
        ("autoscaling.prometheus_url", "Field required")]
    assert errors(service_data(autoscaling={"max_replicas": 2, "prometheus_url": PROMETHEUS})) == [
        ("autoscaling.prometheus_url", "Extra inputs are not permitted")]
    assert errors(service_data(autoscaling={"backend": "knative", "max_replicas": 2})) == [
        ("autoscaling", "backend must be one of: hpa, keda")]


def test_rollout_surges_only_into_declared_spare_gpus(service_data: Build) -> None:
    default = VllmServiceSpec.model_validate(service_data()).resolved
    assert (default.max_surge, default.max_unavailable) == (0, 1)
    spare = VllmServiceSpec.model_validate(service_data(availability={"rollout": {"spare_gpus": 1}})).resolved
    assert (spare.max_surge, spare.max_unavailable) == (1, 0)
    objects = render(service_data(availability={"rollout": {"spare_gpus": 1}}))
    assert objects["Deployment"]["metadata"]["annotations"]["vllm-infra.io/spare-gpus"] == "1"
    assert objects["Deployment"]["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_explicit_surge_without_spare_gpus_is_rejected(service_data: Build) -> None:
    data = service_data(accelerator={"type": "H100-80GB"}, parallelism={"tensor": 4},
                        availability={"replicas": 2, "rollout": {"max_surge": 1, "spare_gpus": 2}})
    assert errors(data) == [("availability.rollout.max_surge",
                             "max_surge 1 needs 4 spare H100-80GB GPUs during a rollout, but the environment has 2 "
                             "spare (fleet spare_gpus, or what its cluster leaves free); the surge would stay Pending: "
                             "use max_surge 0")]


def test_fleet_spare_gpus_apply_per_gpu_type(service_data: Build) -> None:
    fleet = FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"}, "spare_gpus": {"L4": 2},
                                      "policy_profile": "dev",
                                      "services": [service_data(), service_data(
                                          name="big", accelerator={"type": "H100-80GB"})]})
    assert [(s.resolved.spare_gpus, s.resolved.max_surge) for s in fleet.services] == [(2, 1), (0, 0)]


def inventory(**h100: Any) -> dict[str, Any]:
    return {"node_pools": [{"name": "l4", "gpu": "L4", "gpus_per_node": 1, "cpu": "8", "memory": "32Gi", "nodes": 3},
                           {"name": "h100", "gpu": "H100-80GB", "cpu": "190", "memory": "1900Gi", **h100}]}


def test_spare_gpus_are_derived_from_the_cluster_per_gpu_type(service_data: Build) -> None:
    fleet = FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"}, "policy_profile": "dev",
                                      "cluster": inventory(nodes=1, reserved_gpus=4),
                                      "services": [service_data(autoscaling={"min_replicas": 1, "max_replicas": 2}),
                                                   service_data(name="big", accelerator={"type": "H100-80GB"},
                                                                parallelism={"tensor": 4})]})
    # L4: 3 nodes x 1 GPU - 2 replicas at most = 1 spare; H100: 1 node x (8 - 4 reserved) - 4 = 0 spare
    assert [(s.resolved.spare_gpus, s.resolved.max_surge, s.resolved.max_unavailable) for s in fleet.services] == [
        (1, 1, 0), (0, 0, 1)]


def test_cluster_and_fleet_spare_gpus_exclude_each_other(service_data: Build) -> None:
    with pytest.raises(ValidationError) as info:
        FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"}, "policy_profile": "dev",
                                  "spare_gpus": {"L4": 1}, "cluster": inventory(), "services": [service_data()]})
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [
        (("spare_gpus",), "derived from cluster when an inventory is declared; remove one of them")]


@pytest.mark.parametrize(("pool", "message"), [
    ({"nodes": 2, "max_nodes": 1}, "cluster.node_pools[1].max_nodes: below nodes (2)"),
    ({"reserved_gpus": 9}, "cluster.node_pools[1].reserved_gpus: more than the 8 GPU(s) of a node"),
    ({"platform": "gke", "gpu": "L40S"}, "cluster.node_pools[1].platform: L40S has no gke node label in the catalog"),
    ({"nodes": 10, "max_nodes": 5_000}, "cluster.node_pools: the pools may grow to 5003 nodes; Kubernetes supports "
                                        "5000 per cluster"),
    ({"nodes": 2_147_483_647}, "cluster.node_pools[1].nodes: Input should be less than or equal to 5000"),
])
def test_node_pools_are_validated(service_data: Build, pool: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"}, "policy_profile": "dev",
                                  "cluster": inventory(**pool), "services": [service_data()]})
    assert [f"{format_path(tuple(e['loc']))}: {e['msg']}" for e in info.value.errors()] == [message]


def test_multi_node_renders_a_leader_worker_set(service_data: Build) -> None:
    objects = render(service_data(**MULTI_NODE))
    lws = objects["LeaderWorkerSet"]["spec"]
    assert "Deployment" not in objects
    group = lws["leaderWorkerTemplate"]
    assert (group["size"], group["restartPolicy"], lws["startupPolicy"]) == (2, "RecreateGroupOnPodRestart",
                                                                             "LeaderCreated")
    leader, worker = (group[key]["spec"]["containers"][0] for key in ("leaderTemplate", "workerTemplate"))
    assert leader["image"] == worker["image"]
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == worker["resources"]["limits"]["nvidia.com/gpu"] == 8
    for template in (group["leaderTemplate"], group["workerTemplate"]):
        shm = [v for v in template["spec"]["volumes"] if v["name"] == "dshm"]
        assert shm == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}]
    # vLLM 0.11.0 spans nodes with Ray only: the object store fits in half of /dev/shm (16Gi), and
    # the leader starts vLLM once every node of the group has joined the Ray cluster.
    assert leader["args"][0].startswith(
        "ray start --head --port=6379 --object-store-memory=8589934592 --disable-usage-stats && until [ \"$(python3 "
        "-c 'import ray; ray.init(address=\"auto\", logging_level=\"ERROR\"); print(sum(node[\"Alive\"] for node in "
        "ray.nodes()))')\" = \"2\" ]; do sleep 5; done && exec vllm serve meta-llama/Llama-3.1-405B-Instruct ")
    assert subprocess.run(["sh", "-n", "-c", leader["args"][0]], check=False).returncode == 0
    assert "--tensor-parallel-size=8 --pipeline-parallel-size=2" in leader["args"][0]
    assert leader["args"][0].endswith("--distributed-executor-backend=ray")
    assert worker["args"] == ["exec ray start --address=$(LWS_LEADER_ADDRESS):6379 --object-store-memory=8589934592 "
                              "--disable-usage-stats --block"]
    assert "startupProbe" in leader and "startupProbe" not in worker
    assert objects["Service"]["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"
    assert lws["rolloutStrategy"] == {"type": "RollingUpdate", "rollingUpdateConfiguration": {
        "maxSurge": 0, "maxUnavailable": 1}}


def test_multi_node_uses_vllms_own_executor_where_the_release_has_it(service_data: Build) -> None:
    group = render(service_data(**MULTI_NODE, image={"tag": "v0.18.1"}))["LeaderWorkerSet"]["spec"][
        "leaderWorkerTemplate"]
    leader, worker = (group[key]["spec"]["containers"][0] for key in ("leaderTemplate", "workerTemplate"))
    native = ["--distributed-executor-backend=mp", "--nnodes=2", "--master-addr=$(LWS_LEADER_ADDRESS)",
              "--master-port=29501"]
    assert leader["command"] == worker["command"] == ["vllm", "serve"]
    assert leader["args"][9:] == [*native, "--node-rank=0", "--shutdown-timeout=60"]
    assert worker["args"][9:] == [*native, "--node-rank=$(NODE_RANK)", "--headless", "--shutdown-timeout=60"]
    assert {"name": "NODE_RANK", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.labels['leaderworkerset.sigs.k8s.io/worker-index']"}}} in worker["env"]
    assert not any(entry["name"] == "NODE_RANK" for entry in leader["env"])


@pytest.mark.parametrize("tag", ["v0.11.0", "v0.18.1"])
def test_multi_node_passes_the_multi_node_rules(service_data: Build, tag: str) -> None:
    data = service_data(**MULTI_NODE, network_policy={"enabled": True}, availability={"replicas": 2},
                        image={"tag": tag})
    objects = render_service(VllmServiceSpec.model_validate(data), CONTEXT)
    ids = ("VI-MN-001", "VI-GPU-001", "VI-GPU-002", "VI-NET-005", "VI-AVL-010", "VI-NET-003", "VI-AVL-009",
           "VI-VER-002")
    assert [(f.rule.id, f.message) for f in evaluate(objects, [RULES[i] for i in ids])] == []


def test_multi_node_parallelism_must_match_the_group(service_data: Build) -> None:
    data = deep_update(service_data(**MULTI_NODE), {"parallelism": {"nodes": 3}})
    assert errors(data) == [("parallelism.nodes", "parallelism.tensor (8) x parallelism.pipeline (2) = 16 GPUs cannot "
                                                  "be split evenly over parallelism.nodes (3)")]
    recreate = deep_update(service_data(**MULTI_NODE), {"availability": {"rollout": {"strategy": "Recreate"}}})
    assert errors(recreate) == [("availability.rollout.strategy", "multi-node replicas (LeaderWorkerSet) only roll: "
                                                                  "use RollingUpdate (the default replaces one group "
                                                                  "at a time)")]
    rwo = deep_update(service_data(**MULTI_NODE), {"storage": {"model_cache": {"access_mode": "ReadWriteOnce"}}})
    assert errors(rwo) == [("storage.model_cache.access_mode", "a ReadWriteOnce volume attaches to one node, but up "
                                                               "to 2 pods mount it; use ReadWriteMany, ReadOnlyMany "
                                                               "or an emptyDir")]


def test_inference_pool_and_route(service_data: Build) -> None:
    routing = {"inference_pool": True, "endpoint_picker": "llm-epp", "gateway": {"name": "gw", "namespace": "gateway"},
               "hostnames": ["llm.example.com"]}
    objects = render(service_data(**MULTI_NODE, routing=routing))
    pool = objects["InferencePool"]["spec"]
    assert pool == {"selector": {"matchLabels": {"vllm-infra.io/service": "llama-8b",
                                                 "leaderworkerset.sigs.k8s.io/worker-index": "0"}},
                    "targetPorts": [{"number": 8000}],
                    "endpointPickerRef": {"name": "llm-epp", "port": {"number": 9002}, "failureMode": "FailClose"}}
    route = objects["HTTPRoute"]["spec"]
    assert route["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw",
                                    "namespace": "gateway"}]
    assert route["rules"][0]["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                                 "name": "llama-8b"}]
    assert route["hostnames"] == ["llm.example.com"]
    assert [(f.rule.id, f.message) for f in evaluate(list(objects.values()), [RULES["VI-NET-006"]])] == []


def test_two_services_may_not_claim_one_gateway_path(service_data: Build) -> None:
    from tests.rule_fixtures import GOOD_FLEET

    route = {"gateway": {"name": "gw", "namespace": "gateway"}}
    fleet = {**GOOD_FLEET, "services": [service_data(name="a", routing=route), service_data(name="b", routing=route)]}
    with pytest.raises(ValidationError) as raised:
        FleetSpec.model_validate(fleet)
    assert "services.1.routing.path_prefix" in str(raised.value).replace("[", ".").replace("]", "")
    assert "services[0] (a) already routes this path prefix on Gateway gateway/gw" in str(raised.value)
    fleet["services"][1]["routing"] = {**route, "path_prefix": "/b"}
    assert FleetSpec.model_validate(fleet).services[1].routing.path_prefix == "/b"


def test_routing_needs_its_references(service_data: Build) -> None:
    assert errors(service_data(routing={"inference_pool": True})) == [
        ("routing.endpoint_picker", "an InferencePool needs the endpoint picker's Service name")]
    assert errors(service_data(routing={"hostnames": ["a.example.com"]})) == [
        ("routing.gateway", "hostnames and path_prefix need a gateway to attach the route to")]
