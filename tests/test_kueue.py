"""Kueue admission: the fleet's LocalQueue and queue labels, the ClusterQueue quota the inventory
declares, and the simulation admitting pods only within it (minimum and maximum scale, rollouts,
spare GPUs), on rendered and hand-written manifests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from vllm_infra.checker.runner import check_objects
from vllm_infra.checker.simulation.cluster import Cluster
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.render import render_fleet
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile

L4_POOLS = [{"name": "system", "cpu": "8", "memory": "32Gi", "nodes": 1},
            {"name": "l4", "gpu": "L4", "gpus_per_node": 1, "cpu": "8", "memory": "32Gi", "nodes": 4}]


def fleet(quota: int | None, replicas: int = 2, cluster_queue: str = "gpu-serving", **changes: Any) -> FleetSpec:
    service = deep_update(MINIMAL_SERVICE, {"name": "llama", "availability": {"replicas": replicas},
                                            "scheduling": {"priority_class": "llm-serving"}})
    cluster: dict[str, Any] = {"node_pools": copy.deepcopy(L4_POOLS)}
    if quota is not None:
        cluster["cluster_queues"] = [{"name": "gpu-serving", "gpus": {"L4": quota}}]
    return FleetSpec.model_validate({"environment": "dev", "policy_profile": "dev", "namespace": {"name": "llm"},
                                     "queue": {"name": "serving", "cluster_queue": cluster_queue},
                                     "cluster": cluster, "services": [deep_update(service, changes)]})


def placement(spec: FleetSpec, cluster: Cluster | None = None) -> list[tuple[str, str, str]]:
    assert spec.cluster is not None
    report = check_objects(render_fleet(spec), "kueue", profile=Profile.DEV,
                           cluster=cluster or cluster_of(spec.cluster))
    return [(f.rule.id, f.severity.value, f.message) for f in report.findings
            if f.rule.id in ("VI-CLU-001", "VI-GPU-005")]


def test_the_fleet_queue_renders_its_local_queue_and_labels_every_workload() -> None:
    multi_node = deep_update(MINIMAL_SERVICE, {"name": "big", "accelerator": {"type": "H100-80GB"},
                                               "model": {"id": "meta-llama/Llama-3.1-405B-Instruct",
                                                         "revision": "1" * 40, "max_model_len": 8192},
                                               "parallelism": {"tensor": 8, "pipeline": 2, "nodes": 2}})
    spec = FleetSpec.model_validate({"environment": "dev", "policy_profile": "dev", "namespace": {"name": "llm"},
                                     "queue": {"name": "serving", "cluster_queue": "gpu-serving"},
                                     "services": [MINIMAL_SERVICE, multi_node]})
    objects = render_fleet(spec)
    [queue] = [obj for obj in objects if obj["kind"] == "LocalQueue"]
    assert (queue["apiVersion"], queue["metadata"]["name"], queue["metadata"]["namespace"], queue["spec"]) == (
        "kueue.x-k8s.io/v1beta2", "serving", "llm", {"clusterQueue": "gpu-serving"})
    assert queue["metadata"]["labels"]["app.kubernetes.io/version"] == "0.11.0"
    assert {obj["kind"]: obj["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] for obj in objects
            if obj["kind"] in ("Deployment", "LeaderWorkerSet")} == {"Deployment": "serving",
                                                                     "LeaderWorkerSet": "serving"}
    elsewhere = FleetSpec.model_validate({**spec.model_dump(exclude_unset=True),
                                          "queue": {"name": "serving", "cluster_queue": "x", "create": False}})
    assert [obj for obj in render_fleet(elsewhere) if obj["kind"] == "LocalQueue"] == []


def test_the_queue_names_a_declared_cluster_queue() -> None:
    with pytest.raises(ValidationError) as info:
        fleet(2, cluster_queue="gpu-batch")
    assert [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()] == [
        ("queue.cluster_queue", "not among cluster.cluster_queues (gpu-serving)")]
    with pytest.raises(ValidationError) as info:
        ClusterSpec.model_validate({"node_pools": L4_POOLS, "cluster_queues": [
            {"name": "q", "gpus": {"L4": 1}}, {"name": "q", "gpus": {"L4": 2}}]})
    assert [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()] == [
        ("cluster_queues[1].name", "duplicate ClusterQueue")]


def test_the_quota_is_what_rollouts_may_surge_into_and_what_the_fleet_may_hold() -> None:
    """Four single-L4 nodes, two replicas: a quota of 3 leaves one GPU to surge into, a quota of 2
    none (the rollout stops a replica first), a quota of 1 holds one replica only."""
    assert [fleet(quota).services[0].availability.rollout.spare_gpus for quota in (3, 2, 1, None)] == [1, 0, 0, 2]
    assert placement(fleet(3)) == []
    assert placement(fleet(2)) == []
    blocked = "1 of 2 replica(s) placed: 0/5 nodes are available: 1 Insufficient memory, 1 Insufficient " \
              "nvidia.com/gpu, 1 node(s) didn't match Pod's node affinity/selector, 3 Kueue ClusterQueue gpu-serving " \
              "admits 1 L4, 1 in use."
    assert placement(fleet(1))[:2] == [
        ("VI-CLU-001", "critical", f"minimum on the declared cluster blocked: {blocked}"),
        ("VI-CLU-001", "medium", f"maximum on the declared cluster degraded: {blocked}")]


def test_pods_of_a_queue_the_inventory_lacks_are_never_admitted() -> None:
    spec = fleet(2)
    assert spec.cluster is not None
    other = cluster_of(ClusterSpec.model_validate({"node_pools": L4_POOLS,
                                                   "cluster_queues": [{"name": "gpu-batch", "gpus": {"L4": 4}}]}))
    assert placement(spec, other)[0] == (
        "VI-CLU-001", "critical", "minimum on the declared cluster blocked: 0 of 2 replica(s) placed: 0/5 nodes are "
                                  "available: 1 node(s) didn't match Pod's node affinity/selector, 4 Kueue "
                                  "ClusterQueue gpu-serving is not in the inventory.")


def test_a_hand_written_deployment_is_admitted_through_the_local_queue_it_names() -> None:
    """Kueue's sample serving Deployment: the queue label on the Deployment, the LocalQueue beside it.
    Without the LocalQueue among the manifests the ClusterQueue is unknown and admission is not played."""
    objects = render_fleet(fleet(1))
    queue = next(obj for obj in objects if obj["kind"] == "LocalQueue")
    spec = fleet(1)
    assert spec.cluster is not None
    cluster = cluster_of(spec.cluster)
    with_queue = check_objects(objects, "kueue", profile=Profile.DEV, cluster=cluster)
    assert any("Kueue ClusterQueue gpu-serving admits 1 L4" in f.message for f in with_queue.findings)
    objects.remove(queue)
    without = check_objects(objects, "kueue", profile=Profile.DEV, cluster=cluster)
    assert [f.message for f in without.findings if f.rule.id == "VI-CLU-001"] == []


def test_the_quota_counts_gpus_not_the_hugepages_beside_them() -> None:
    """A pod that also requests hugepages (or an RDMA device) takes only its GPUs from the quota."""
    spec = fleet(2)
    pools = copy.deepcopy(L4_POOLS)
    pools[1]["hugepages"] = {"hugepages-2Mi": "4Gi"}
    cluster = cluster_of(ClusterSpec.model_validate({"node_pools": pools, "cluster_queues": [
        {"name": "gpu-serving", "gpus": {"L4": 2}}]}))
    objects = render_fleet(spec)
    server = next(obj for obj in objects if obj["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for section in ("requests", "limits"):
        server["resources"][section]["hugepages-2Mi"] = "1Gi"
    assert placement(spec, cluster) == []
    report = check_objects(objects, "kueue", profile=Profile.DEV, cluster=cluster)
    assert [f.message for f in report.findings if f.rule.id == "VI-CLU-001"] == []
