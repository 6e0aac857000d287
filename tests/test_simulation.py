"""The scheduling simulation: kube-scheduler's filters checked against cases carried over (as
facts: inputs and expected outcomes) from the upstream plugin test tables, and the scenarios'
worked cases from the issue."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rule_fixtures import good_objects, lws_objects
from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.templates import PodTemplate
from vllm_infra.checker.simulation.cluster import Cluster, Node, NodePool, Taint
from vllm_infra.checker.simulation.outcomes import Scenario, Verdict
from vllm_infra.checker.simulation.pods import effective_requests, pod_shape
from vllm_infra.checker.simulation.scenarios import place_fleet, simulate_manifests
from vllm_infra.checker.simulation.scheduler import ClusterState, Placed, Unschedulable, fit_error
from vllm_infra.checker.simulation.workloads import workloads as read_workloads

GPU = "nvidia.com/gpu"
GPU_TAINT = Taint(GPU, "present", "NoSchedule")
TOLERATE_GPU = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]


def pool(name: str = "gpu", *, nodes: int = 1, max_nodes: int | None = None, gpus: int = 8,
         zones: tuple[str, ...] = (), labels: dict[str, str] | None = None,
         taints: tuple[Taint, ...] = (GPU_TAINT,)) -> NodePool:
    allocatable = {"cpu": 190_000, "memory": 1900 * 2**30, "pods": 110, **({GPU: gpus} if gpus else {})}
    return NodePool(name, MappingProxyType(labels or {}), taints, MappingProxyType(allocatable), zones, nodes,
                    nodes if max_nodes is None else max_nodes)


def shape(spec: dict[str, Any], labels: dict[str, str] | None = None, namespace: str = "ns") -> Any:
    return pod_shape(PodTemplate(("spec",), spec, labels or {}), namespace)


def node(name: str, labels: dict[str, str] | None = None, taints: tuple[Taint, ...] = ()) -> Node:
    """A node of its own pool (the simulator shares answers between nodes of one pool and zone)."""
    return Node(name, name, MappingProxyType(labels or {}), taints, MappingProxyType({"cpu": 4000, "pods": 110}))


def state_of(*nodes: Node) -> ClusterState:
    state = ClusterState(Cluster(()), autoscale=False)
    for item in nodes:
        state.nodes.append(item)
        state.used[item], state.pods[item] = {}, []
    return state


# -- TaintToleration: kubernetes/kubernetes pkg/scheduler/framework/plugins/tainttoleration/
#    taint_toleration_test.go, TestTaintTolerationFilter (commit 04c0d74f8e8b) -------------------
TAINT_CASES = [
    ("no tolerations, tainted node", [], [Taint("dedicated", "user1", "NoSchedule")], False),
    ("toleration matches key, value and effect", [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
     [Taint("dedicated", "user1", "NoSchedule")], True),
    ("Equal toleration for another value", [{"key": "dedicated", "operator": "Equal", "value": "user2",
                                             "effect": "NoSchedule"}], [Taint("dedicated", "user1", "NoSchedule")],
     False),
    ("Exists toleration", [{"key": "foo", "operator": "Exists", "effect": "NoSchedule"}],
     [Taint("foo", "bar", "NoSchedule")], True),
    ("all of several taints tolerated", [{"key": "dedicated", "operator": "Equal", "value": "user2",
                                          "effect": "NoSchedule"}, {"key": "foo", "operator": "Exists",
                                                                     "effect": "NoSchedule"}],
     [Taint("dedicated", "user2", "NoSchedule"), Taint("foo", "bar", "NoSchedule")], True),
    ("key and value match, effect differs", [{"key": "foo", "operator": "Equal", "value": "bar",
                                              "effect": "PreferNoSchedule"}], [Taint("foo", "bar", "NoSchedule")],
     False),
    ("empty toleration effect tolerates NoSchedule", [{"key": "foo", "operator": "Equal", "value": "bar"}],
     [Taint("foo", "bar", "NoSchedule")], True),
    ("PreferNoSchedule never filters", [{"key": "dedicated", "operator": "Equal", "value": "user2",
                                         "effect": "NoSchedule"}], [Taint("dedicated", "user1", "PreferNoSchedule")],
     True),
    ("no toleration, PreferNoSchedule taint", [], [Taint("dedicated", "user1", "PreferNoSchedule")], True),
    ("Gt toleration with the comparison feature gate off (its default)",
     [{"key": "node.kubernetes.io/sla", "operator": "Gt", "value": "750", "effect": "NoSchedule"}],
     [Taint("node.kubernetes.io/sla", "950", "NoSchedule")], False),
]


@pytest.mark.parametrize(("case", "tolerations", "taints", "fits"), TAINT_CASES, ids=[c[0] for c in TAINT_CASES])
def test_taint_toleration_filter(case: str, tolerations: list[dict[str, str]], taints: list[Taint],
                                 fits: bool) -> None:
    target = node("nodeA", taints=tuple(taints))
    reasons = state_of(target).reasons(shape({"tolerations": tolerations}), target)
    assert reasons == ([] if fits else [f"node(s) had untolerated taint {taints[0]}"])


# -- NodeAffinity: operators as pkg/scheduler/framework/plugins/nodeaffinity/node_affinity_test.go
#    exercises them (In, NotIn, Exists, DoesNotExist, Gt/Lt on integers, ORed terms, empty term) ------
AFFINITY_CASES = [
    ("In matches", [[{"key": "foo", "operator": "In", "values": ["bar", "value2"]}]], {"foo": "bar"}, True),
    ("In misses", [[{"key": "foo", "operator": "In", "values": ["value1", "value2"]}]], {"foo": "bar"}, False),
    ("NotIn on a missing label matches", [[{"key": "foo", "operator": "NotIn", "values": ["bar"]}]], {}, True),
    ("Gt compares integers", [[{"key": "kernel-version", "operator": "Gt", "values": ["0204"]}]],
     {"kernel-version": "0206"}, True),
    ("Lt compares integers", [[{"key": "mem-type", "operator": "Lt", "values": ["3"]}]], {"mem-type": "3"}, False),
    ("Gt on a non-integer label fails", [[{"key": "foo", "operator": "Gt", "values": ["1"]}]], {"foo": "bar"},
     False),
    ("DoesNotExist", [[{"key": "foo", "operator": "DoesNotExist"}]], {"foo": "bar"}, False),
    ("terms are ORed", [[{"key": "foo", "operator": "In", "values": ["x"]}],
                        [{"key": "diffkey", "operator": "Exists"}]], {"diffkey": "1"}, True),
    ("an empty term matches nothing", [[]], {"foo": "bar"}, False),
]


@pytest.mark.parametrize(("case", "terms", "labels", "fits"), AFFINITY_CASES, ids=[c[0] for c in AFFINITY_CASES])
def test_node_affinity_filter(case: str, terms: list[list[dict[str, Any]]], labels: dict[str, str],
                              fits: bool) -> None:
    target = node("n", labels)
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": term} for term in terms]}}}
    reasons = state_of(target).reasons(shape({"affinity": affinity}), target)
    assert reasons == ([] if fits else ["node(s) didn't match Pod's node affinity/selector"])


# -- NodeResourcesFit: init containers and overhead as computed by PodRequests (fit_test.go) ---------
def test_effective_requests_take_the_larger_of_init_and_app_containers_plus_overhead() -> None:
    spec = {"initContainers": [{"name": "fetch", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}},
                               {"name": "proxy", "restartPolicy": "Always",
                                "resources": {"requests": {"cpu": "500m"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}, "limits": {GPU: 2}}},
                           {"name": "b", "resources": {"limits": {"memory": "2Gi"}}}],
            "overhead": {"cpu": "250m"}}
    assert effective_requests(spec) == {"cpu": 3250, GPU: 2, "memory": 2 * 2**30, "pods": 1}


def test_insufficient_resources_are_tallied_like_fit_error() -> None:
    state = ClusterState(Cluster((pool(nodes=2, gpus=1),)), autoscale=False)
    pod = shape({"containers": [{"resources": {"limits": {GPU: 2}}}], "tolerations": TOLERATE_GPU})
    with pytest.raises(Unschedulable) as error:
        state.place(pod, "w")
    assert error.value.message == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."


# -- PodTopologySpread: pkg/scheduler/framework/plugins/podtopologyspread/filtering_test.go,
#    TestSingleConstraint (commit 01c2588bf4a3) --------------------------------------------------
FOUR_NODES = [("node-a", "zone1"), ("node-b", "zone1"), ("node-x", "zone2"), ("node-y", "zone2")]
FOO_SELECTOR = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
SPREAD_CASES = [
    ("no existing pods", "zone", 1, FOO_SELECTOR, {}, {"node-a", "node-b", "node-x", "node-y"}),
    ("pods spread across zones as 3/3, all nodes fit", "zone", 1, FOO_SELECTOR,
     {"node-a": 2, "node-b": 1, "node-y": 3}, {"node-a", "node-b", "node-x", "node-y"}),
    ("pods spread across nodes as 2/1/0/3, only node-x fits", "node", 1, FOO_SELECTOR,
     {"node-a": 2, "node-b": 1, "node-y": 3}, {"node-x"}),
    ("pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit", "node", 2, FOO_SELECTOR,
     {"node-a": 2, "node-b": 1, "node-y": 3}, {"node-b", "node-x"}),
    ("existing pods do not match null selector", "zone", 1, None, {"node-x": 1, "node-y": 1},
     {"node-a", "node-b", "node-x", "node-y"}),
    ("pod cannot be scheduled as all nodes don't have label 'rack'", "rack", 1, FOO_SELECTOR, {}, set()),
]


@pytest.mark.parametrize(("case", "key", "skew", "selector", "existing", "fitting"), SPREAD_CASES,
                         ids=[c[0] for c in SPREAD_CASES])
def test_topology_spread_single_constraint(case: str, key: str, skew: int, selector: dict[str, Any] | None,
                                           existing: dict[str, int], fitting: set[str]) -> None:
    nodes = [node(name, {"zone": zone, "node": name}) for name, zone in FOUR_NODES]
    state = state_of(*nodes)
    other = shape({}, {"foo": ""})
    for target in nodes:
        for index in range(existing.get(target.name, 0)):
            state.bind(Placed(other, target, "existing", index))
    constraint = {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
                  **({"labelSelector": selector} if selector is not None else {})}
    incoming = shape({"topologySpreadConstraints": [constraint]}, {"foo": ""})
    assert {n.name for n in nodes if not state.reasons(incoming, n)} == fitting


def test_min_domains_counts_missing_domains_as_empty() -> None:
    """KEP-3022: with fewer eligible domains than minDomains the global minimum is 0, so a second
    pod may not join the only zone (maxSkew 1) even though it is the only one."""
    target = node("a", {"zone": "z1"})
    state = state_of(target)
    state.bind(Placed(shape({}, {"app": "m"}), target, "m", 0))
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2,
               "labelSelector": {"matchLabels": {"app": "m"}}}]
    assert state.reasons(shape({"topologySpreadConstraints": spread}, {"app": "m"}), target) == [
        "node(s) didn't match pod topology spread constraints"]
    spread[0]["minDomains"] = 1
    assert state.reasons(shape({"topologySpreadConstraints": spread}, {"app": "m"}), target) == []


def test_required_anti_affinity_keeps_replicas_on_separate_nodes() -> None:
    first, second = node("a", {"kubernetes.io/hostname": "a"}), node("b", {"kubernetes.io/hostname": "b"})
    state = state_of(first, second)
    term = {"labelSelector": {"matchLabels": {"app": "m"}}, "topologyKey": "kubernetes.io/hostname"}
    pod = shape({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}},
                {"app": "m"})
    state.bind(Placed(pod, first, "m", 0))
    assert state.reasons(pod, first) == ["node(s) didn't match pod anti-affinity rules"]
    assert state.reasons(shape({}, {"app": "m"}), first) == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    assert state.reasons(pod, second) == []


def test_fit_error_sorts_reasons_as_strings() -> None:
    from collections import Counter

    assert fit_error(16, Counter({"node(s) had untolerated taint {a: b}": 8, "Insufficient nvidia.com/gpu": 8})) == (
        "0/16 nodes are available: 8 Insufficient nvidia.com/gpu, 8 node(s) had untolerated taint {a: b}.")


# -- Scenarios: the worked cases ---------------------------------------------------------------
def deployment(name: str, *, gpus: int = 1, replicas: int = 1, strategy: dict[str, Any] | None = None,
               spec: dict[str, Any] | None = None) -> dict[str, Any]:
    pod_spec = {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.33.0",
                                "resources": {"limits": {GPU: gpus}, "requests": {"cpu": "4", "memory": "32Gi"}}}],
                "tolerations": TOLERATE_GPU, **(spec or {})}
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}
    if strategy is not None:
        obj["spec"]["strategy"] = strategy
    return obj


def outcome(cluster: Cluster, objects: list[dict[str, Any]], scenario: Scenario, subject: str) -> Any:
    return next(o for o in simulate_manifests(cluster, objects).of(scenario) if o.subject == subject)


def test_one_gpu_rollout_with_default_surge_deadlocks_without_a_spare_gpu() -> None:
    cluster = Cluster((pool(gpus=1),))
    result = outcome(cluster, [deployment("m")], Scenario.ROLLOUT, "Deployment/ns/m")
    assert (result.verdict, result.detail, result.reason) == (
        Verdict.BLOCKED, "deadlock at step 2: 1 old and 0 new replica(s) running, 1 new Pending (maxSurge 1, "
                         "maxUnavailable 0)", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")


def test_one_gpu_rollout_without_surge_completes_through_an_outage() -> None:
    cluster = Cluster((pool(gpus=1),))
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    result = outcome(cluster, [deployment("m", strategy=strategy)], Scenario.ROLLOUT, "Deployment/ns/m")
    assert result.verdict == Verdict.DEGRADED
    assert result.detail.startswith("completes in 2 step(s), but no replica serves")


def test_a_spare_node_from_the_autoscaler_lets_the_surge_through() -> None:
    cluster = Cluster((pool(gpus=1, max_nodes=2),))
    assert outcome(cluster, [deployment("m")], Scenario.ROLLOUT, "Deployment/ns/m").verdict == Verdict.OK


def test_pdb_with_min_available_equal_to_replicas_blocks_the_drain() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "m", "namespace": "ns"},
           "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "m"}}}}
    cluster = Cluster((pool(nodes=2),))
    result = outcome(cluster, [deployment("m", replicas=2), pdb], Scenario.DRAIN, "Deployment/ns/m")
    assert (result.verdict, result.detail) == (
        Verdict.BLOCKED, "drain of gpu-0 cannot finish: PodDisruptionBudget m allows 0 disruptions with 2 of 2 pod(s) "
                         "healthy")
    pdb["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "m"}}}
    assert outcome(cluster, [deployment("m", replicas=2), pdb], Scenario.DRAIN, "Deployment/ns/m").verdict == \
        Verdict.OK


def test_required_zone_spread_with_one_zone_full_is_unschedulable() -> None:
    cluster = Cluster((pool("a", gpus=1, labels={"topology.kubernetes.io/zone": "a"}),
                       pool("b", gpus=3, labels={"topology.kubernetes.io/zone": "b"})))
    spread = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                             "whenUnsatisfiable": "DoNotSchedule",
                                             "labelSelector": {"matchLabels": {"app": "m"}}}]}
    result = outcome(cluster, [deployment("m", replicas=4, spec=spread)], Scenario.MINIMUM, "Deployment/ns/m")
    assert (result.verdict, result.detail, result.reason) == (
        Verdict.BLOCKED, "3 of 4 replica(s) placed", "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, "
                                                     "1 node(s) didn't match pod topology spread constraints.")


def lws(name: str, *, tensor: int = 8, pipeline: int = 2, replicas: int = 1) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": name}}, "spec": {
        "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.33.0",
                        "args": [f"--tensor-parallel-size={tensor}", f"--pipeline-parallel-size={pipeline}"],
                        "resources": {"limits": {GPU: tensor}}}], "tolerations": TOLERATE_GPU}}
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas, "leaderWorkerTemplate": {"size": pipeline, "workerTemplate": template}}}


def test_a_tp8_pp2_group_needs_two_free_eight_gpu_nodes_at_once() -> None:
    filler = deployment("filler", gpus=1)
    one_free = Cluster((pool(nodes=2),))
    result = outcome(one_free, [lws("big"), filler], Scenario.MINIMUM, "LeaderWorkerSet/ns/big")
    assert result.verdict == Verdict.OK  # placed first (largest replicas first), the filler goes last
    blocked = outcome(one_free, [lws("big", replicas=2), filler], Scenario.MINIMUM, "LeaderWorkerSet/ns/big")
    assert (blocked.verdict, blocked.detail, blocked.reason) == (
        Verdict.BLOCKED, "1 of 2 replica(s) placed", "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.")
    assert outcome(Cluster((pool(nodes=3),)), [lws("big", replicas=2), filler], Scenario.MINIMUM,
                   "LeaderWorkerSet/ns/big").detail == "1 of 2 replica(s) placed"
    assert outcome(Cluster((pool(nodes=4),)), [lws("big", replicas=2), filler], Scenario.MINIMUM,
                   "LeaderWorkerSet/ns/big").verdict == Verdict.OK


def test_taint_without_toleration_is_reported_in_the_schedulers_words() -> None:
    untolerant = deployment("m", spec={"tolerations": []})
    cluster = Cluster((pool(nodes=16),))
    result = outcome(cluster, [untolerant], Scenario.MINIMUM, "Deployment/ns/m")
    assert result.reason == "0/16 nodes are available: 16 node(s) had untolerated taint {nvidia.com/gpu: present}."


def test_losing_a_zone_moves_replicas_or_reports_the_shortfall() -> None:
    zoned = Cluster((pool(nodes=2, gpus=1, zones=("a", "b")),))
    result = outcome(zoned, [deployment("m", replicas=2)], Scenario.ZONE_LOSS, "Deployment/ns/m")
    assert (result.verdict, result.detail) == (Verdict.DEGRADED, "losing a: 1 replica(s) left of 2")
    grown = Cluster((pool(nodes=2, max_nodes=3, gpus=1, zones=("a", "b")),))
    assert outcome(grown, [deployment("m", replicas=2)], Scenario.ZONE_LOSS, "Deployment/ns/m").verdict == Verdict.OK


def test_scale_out_reports_nodes_added_per_pool() -> None:
    autoscaled = Cluster((pool(nodes=0, max_nodes=2, gpus=1),))
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "m", "namespace": "ns"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "m"},
                    "minReplicas": 1, "maxReplicas": 3}}
    simulation = simulate_manifests(autoscaled, [deployment("m"), hpa])
    assert [(o.verdict, o.detail) for o in simulation.of(Scenario.SCALE_OUT)] == [
        (Verdict.BLOCKED, "0 node(s) at rest, 1 at minimum scale, 2 at maximum scale (pool maximum 2)")]
    assert [(o.verdict, o.detail) for o in simulation.of(Scenario.MAXIMUM)] == [
        (Verdict.DEGRADED, "2 of 3 replica(s) placed")]


def test_rolling_back_restores_bindings_nodes_and_cordons() -> None:
    """Every scenario is played from one state and rolled back: after placing a fleet (growing a
    pool), draining a node and losing a zone, the state is what it was at the checkpoint."""
    from vllm_infra.checker.simulation.scenarios import drain, place_fleet, zone_loss

    cluster = Cluster((pool(nodes=2, max_nodes=4, gpus=2, zones=("a", "b")),))
    fleet = read_workloads(Bundle([deployment("m", replicas=3), lws("g", tensor=2, pipeline=2)]))
    state = ClusterState(cluster)

    def picture() -> tuple[object, ...]:
        used = {n.name: {key: amount for key, amount in u.items() if amount} for n, u in state.used.items()}
        return ([n.name for n in state.nodes], used,
                {n.name: [p.workload for p in pods] for n, pods in state.pods.items()}, dict(state.pool_size),
                {n.name for n in state.cordoned})

    empty = picture()
    mark = state.checkpoint()
    placement = place_fleet(state, fleet, lambda w: w.max_replicas)
    assert state.pool_size["gpu"] > 2  # the autoscaler grew the pool
    placed = picture()
    inner = state.checkpoint()
    replicas = {key: list(value) for key, value in placement.replicas.items()}
    drain(state, state.nodes[0], {w.key: w for w in fleet}, replicas)
    zone_loss(state, "b", {w.key: w for w in fleet}, {key: list(value) for key, value in placement.replicas.items()})
    assert picture() != placed
    state.rollback(inner)
    assert picture() == placed
    state.rollback(mark)
    assert picture() == empty


# -- Invariants ----------------------------------------------------------------------------------
POOLS = st.builds(
    lambda name, nodes, extra, gpus, zones, tainted: pool(
        name, nodes=nodes, max_nodes=nodes + extra, gpus=gpus, zones=tuple(f"z{i}" for i in range(zones)),
        labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"} if name == "h" else {},
        taints=(GPU_TAINT,) if tainted else ()),
    st.sampled_from(["h", "l"]), st.integers(0, 3), st.integers(0, 2), st.integers(0, 8), st.integers(0, 3),
    st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(POOLS, min_size=1, max_size=3, unique_by=lambda p: p.name), st.booleans())
def test_any_cluster_gives_every_workload_a_verdict_per_scenario_without_overcommitting(
        pools: list[NodePool], multi_node: bool) -> None:
    cluster = Cluster(tuple(pools))
    objects = lws_objects() if multi_node else good_objects()
    simulation = simulate_manifests(cluster, objects)
    fleet = read_workloads(Bundle(objects))
    for scenario in (Scenario.MINIMUM, Scenario.MAXIMUM, Scenario.ROLLOUT, Scenario.DRAIN, Scenario.ZONE_LOSS):
        assert sorted(o.subject for o in simulation.of(scenario)) == sorted(w.key for w in fleet)
    state = ClusterState(cluster)
    place_fleet(state, fleet, lambda w: w.max_replicas)
    for target in state.nodes:
        assert all(amount <= target.allocatable.get(key, 0) for key, amount in state.used[target].items())
    assert all(size <= p.max_nodes for p, size in zip(cluster.pools, state.pool_size.values(), strict=True))
