"""The LWS DisaggregatedSet: what ``disaggregation.workload: disaggregated-set`` renders and how every
proof (check, simulate, plan) reads it, and the checker on a hand-written set modelled on LWS's
published sample, with one mutation per mistake class."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.test_disaggregation import WHY, errors, fleet_of, pd_service
from vllm_infra.checker.pipeline import Status
from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import RuleContext
from vllm_infra.checker.runner import check_objects, evaluate
from vllm_infra.checker.simulation.outcomes import Scenario
from vllm_infra.checker.simulation.scenarios import simulate_manifests
from vllm_infra.operations.plan import plan_fleet
from vllm_infra.operations.simulate import cluster_of
from vllm_infra.render import render_fleet
from vllm_infra.spec.cluster import ClusterSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten" / "disaggregatedset.yaml"
SET_RULES = ("VI-SCH-001", "VI-AVL-001", "VI-AVL-002", "VI-AVL-004", "VI-AVL-005", "VI-NET-003", "VI-NET-005",
             "VI-GPU-002", "VI-PD-002", "VI-PD-004")
Objects = list[dict[str, Any]]
AS_SET = {"workload": "disaggregated-set"}


def handwritten() -> Objects:
    return [copy.deepcopy(obj) for obj in yaml.safe_load_all(FIXTURE.read_text())]


def findings(objects: Objects) -> list[tuple[str, str, str, str]]:
    return [(f.rule.id, format_path(f.path), str(f.severity), f.message)
            for f in evaluate(objects, [RULES[rule] for rule in SET_RULES], RuleContext())]


def role(objects: Objects, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = objects[0]["spec"]["roles"][index]
    return entry


def named(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name)


def rename(objects: Objects, name: str) -> None:
    """Rename the set and every selector on its name label."""
    objects[0]["metadata"]["name"] = name
    for obj in objects[1:]:
        selector = obj["spec"]["selector"]
        labels = selector.get("matchLabels", selector)
        labels["disaggregatedset.x-k8s.io/name"] = name


def role_autoscaler(objects: Objects, role: str, low: int, *, external: bool = True) -> None:
    """An HPA on the role's DisaggregatedSetRoleScaler (``<set>-<role>``), the role scaled externally."""
    index = [entry["name"] for entry in objects[0]["spec"]["roles"]].index(role)
    if external:
        objects[0]["spec"]["roles"][index]["scaling"] = {"mode": "External"}
    objects.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": f"qwen-pd-{role}", "namespace": "llm"},
                    "spec": {"scaleTargetRef": {"apiVersion": "disaggregatedset.x-k8s.io/v1",
                                                "kind": "DisaggregatedSetRoleScaler", "name": f"qwen-pd-{role}"},
                             "minReplicas": low, "maxReplicas": 4,
                             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                 "type": "Utilization", "averageUtilization": 80}}}]}})


def test_the_set_as_lws_publishes_it_passes() -> None:
    assert findings(handwritten()) == []


Mutation = Callable[[Objects], object]
CASES: list[tuple[str, Mutation, list[tuple[str, str, str, str]]]] = [
    ("a Service selecting the app label the controller overwrites", lambda o: named(o, "Service", "qwen-pd-prefill")[
        "spec"].update(selector={"app": "qwen-prefill"}),
     [("VI-NET-003", "spec.selector", "high", "Service selects no pods in the manifests")]),
    ("a role no PodDisruptionBudget covers", lambda o: o.remove(named(o, "PodDisruptionBudget", "qwen-pd-decode")),
     [("VI-AVL-001", "spec.roles[1].name", "high", "0 PodDisruptionBudgets select role decode (none)")]),
    ("a budget that never allows a drain of a role", lambda o: (
        spec := named(o, "PodDisruptionBudget", "qwen-pd-prefill")["spec"], spec.pop("maxUnavailable"),
        spec.update(minAvailable=2)),
     [("VI-AVL-002", "spec.minAvailable", "critical", "minAvailable 2 is not below the minimum scale 2 of "
       "qwen-pd/prefill (unverified against a cluster: no inventory given to check --cluster)")]),
    ("a role on one replica", lambda o: role(o, 1)["spec"].update(replicas=1),
     [("VI-AVL-004", "spec.roles[1].spec", "medium", "role decode has fewer than 2 replicas: one node or GPU failure "
       "is an outage")]),
    ("a group whose GPUs do not add up to TP", lambda o: role(o, 1)["spec"]["leaderWorkerTemplate"].update(size=3),
     [("VI-GPU-002", "spec.roles[1].spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].args", "critical",
       "TP x PP = 8 but the group has 4 GPUs per pod x 3 pods = 12")]),
    ("decode without the connector", lambda o: [args.pop() for template in ("leaderTemplate", "workerTemplate")
                                                 for args in [role(o, 1)["spec"]["leaderWorkerTemplate"][template][
                                                     "spec"]["containers"][0]["args"]]],
     [("VI-PD-002", "spec.roles[1].spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].args", "high",
       "decode pods of DisaggregatedSet/qwen-pd set no --kv-transfer-config while prefill pods of the pair do: no KV "
       "cache passes between them")]),
    ("names the webhook cannot fit", lambda o: rename(o, "qwen3-32b-instruct-prefill-decode-prod-euw1"),
     [("VI-PD-004", "spec.roles[0].name", "high", "role prefill's Service name <set>-<slice>-<revision>-prefill-prv "
       "is 3 character(s) over 63: the webhook refuses the set"),
      ("VI-PD-004", "spec.roles[1].name", "high", "role decode's Service name <set>-<slice>-<revision>-decode-prv is "
       "2 character(s) over 63: the webhook refuses the set")]),
    ("a partition on a role", lambda o: role(o, 0)["spec"].update(rolloutStrategy={
        "type": "RollingUpdate", "rollingUpdateConfiguration": {"partition": 1}}),
     [("VI-PD-004", "spec.roles[0].spec.rolloutStrategy.rollingUpdateConfiguration.partition", "high",
       "role prefill sets a partition: the set steps its roles itself and refuses one")]),
    ("a field the vendored schema lacks", lambda o: role(o, 0)["spec"].update(groupIdentity="Hash"),
     [("VI-SCH-001", "spec.roles[0].spec", "critical", "Additional properties are not allowed ('groupIdentity' was "
       "unexpected) (the DisaggregatedSet schema vendored from kubernetes-sigs/lws 060ab4d lacks it: a typo, or a "
       "field of a later release; give the installed CRD with --schema-dir)")]),
    ("a required field without a default left out", lambda o: role(o, 1)["spec"]["leaderWorkerTemplate"].pop(
        "workerTemplate"),
     [("VI-SCH-001", "spec.roles[1].spec.leaderWorkerTemplate", "critical", "\"workerTemplate\" is a required "
       "property")]),
    ("an externally scaled role whose autoscaler keeps one replica", lambda o: role_autoscaler(o, "decode", 1),
     [("VI-AVL-004", "spec.roles[1].spec", "medium", "role decode has fewer than 2 replicas: one node or GPU failure "
       "is an outage")]),
    ("an autoscaler on a role scaler the set does not create", lambda o: role_autoscaler(o, "decode", 2,
                                                                                           external=False),
     [("VI-AVL-005", "spec.scaleTargetRef", "high", "scaleTargetRef DisaggregatedSetRoleScaler/qwen-pd-decode is not "
       "in the manifests (a DisaggregatedSet creates one only for a role with scaling.mode: External)")]),
    ("a set partly scaled to zero", lambda o: role(o, 1)["spec"].update(replicas=0),
     [("VI-PD-004", "spec.roles[1].spec.replicas", "high", "some statically scaled roles have replicas and others "
       "none: the schema refuses a set that is partly scaled to zero"),
      ("VI-AVL-004", "spec.roles[1].spec", "medium", "role decode has fewer than 2 replicas: one node or GPU failure "
       "is an outage")]),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CASES], ids=[name for name, _, _ in CASES])
def test_each_mistake_class_is_found(mutate: Mutation, expected: list[tuple[str, str, str, str]]) -> None:
    objects = handwritten()
    mutate(objects)
    assert findings(objects) == expected


def test_an_externally_scaled_role_takes_its_autoscalers_range() -> None:
    """The role's replicas are ignored once it is scaled through its DisaggregatedSetRoleScaler."""
    objects = handwritten()
    role(objects, 1)["spec"]["replicas"] = 1
    role_autoscaler(objects, "decode", 2)
    assert findings(objects) == []


def test_the_set_renders_in_place_of_the_role_workloads_and_passes_check() -> None:
    objects = render_fleet(fleet_of(pd_service(disaggregation=AS_SET)))
    assert [obj["kind"] for obj in objects if obj["metadata"]["name"].startswith("llama-pd-")
            and obj["kind"] in ("Deployment", "LeaderWorkerSet")] == ["Deployment"]  # the endpoint picker's
    [pd_set] = [obj for obj in objects if obj["kind"] == "DisaggregatedSet"]
    assert (pd_set["apiVersion"], pd_set["metadata"]["name"]) == ("disaggregatedset.x-k8s.io/v1", "llama-pd")
    assert [(entry["name"], entry["spec"]["replicas"], entry["spec"]["leaderWorkerTemplate"]["size"],
             sorted(entry["spec"]["leaderWorkerTemplate"]), entry["spec"]["rolloutStrategy"]["type"],
             entry["metadata"]["labels"]["vllm-infra.io/service"]) for entry in pd_set["spec"]["roles"]] == [
        ("prefill", 2, 1, ["size", "workerTemplate"], "RollingUpdate", "llama-pd-prefill"),
        ("decode", 2, 1, ["size", "workerTemplate"], "RollingUpdate", "llama-pd-decode")]
    assert pd_set["metadata"]["annotations"]["vllm-infra.io/waive.VI-IMG-001"] == (
        f"accepts=vllm/vllm-openai:v0.20.2; accepts=ghcr.io/llm-d/llm-d-routing-sidecar:v0.8.0; {WHY}")
    assert pd_set["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "1"  # after its CRD
    report = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    assert [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED] == []


def test_a_multi_node_role_groups_its_pods_and_lets_them_talk() -> None:
    service = pd_service(model={"id": "meta-llama/Llama-3.1-405B-Instruct-FP8", "max_model_len": 8192},
                         disaggregation={**AS_SET, "decode": {"parallelism": {"tensor": 8, "nodes": 2},
                                                              "accelerator": {"type": "H100-80GB", "count": 4}}},
                         parallelism={"tensor": 8})
    objects = render_fleet(fleet_of(service))
    decode = next(obj for obj in objects if obj["kind"] == "DisaggregatedSet")["spec"]["roles"][1]["spec"]
    assert (decode["leaderWorkerTemplate"]["size"], decode["startupPolicy"],
            decode["leaderWorkerTemplate"]["restartPolicy"]) == (2, "LeaderCreated", "RecreateGroupOnPodRestart")
    policy = named(objects, "NetworkPolicy", "llama-pd-decode")
    assert {"podSelector": {"matchLabels": {"vllm-infra.io/service": "llama-pd-decode"}}} in [
        peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
    report = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    assert [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED] == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"disaggregation": {**AS_SET, "decode": {"autoscaling": {"min_replicas": 1, "max_replicas": 3}}}},
     ("disaggregation.decode.autoscaling", "a DisaggregatedSet role takes fixed replicas here (its "
      "DisaggregatedSetRoleScaler is not rendered): set replicas, or use workload: deployments")),
    ({"disaggregation": AS_SET, "availability": {"rollout": {"strategy": "Recreate"}}},
     ("availability.rollout.strategy", "a DisaggregatedSet rolls its roles out with RollingUpdate only (its webhook "
      "refuses other types)")),
])
def test_what_a_disaggregated_set_may_not_take(change: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors(pd_service(**change))


def test_each_role_is_simulated_as_a_workload_of_its_own() -> None:
    pool = {"name": "h100", "gpu": "H100-80GB", "cpu": "191", "memory": "1900Gi", "ephemeral_storage": "500Gi",
            "nodes": 2}
    objects = render_fleet(fleet_of(pd_service(disaggregation=AS_SET)))
    simulation = simulate_manifests(cluster_of(ClusterSpec.model_validate({"node_pools": [pool]})), objects)
    by_role = {o.subject: (o.scenario, o.verdict) for o in simulation.outcomes
               if o.subject.startswith("DisaggregatedSet") and o.scenario in (Scenario.ROLLOUT, Scenario.DRAIN)}
    # four 4-GPU replicas fill both nodes: a rollout steps within maxUnavailable 1, a drain
    # leaves the evicted replica Pending until its node returns
    assert sorted({subject for subject in by_role}) == [
        "DisaggregatedSet/llm/llama-pd/decode", "DisaggregatedSet/llm/llama-pd/prefill"]
    outcomes = {(o.subject.rsplit("/", 1)[1], o.scenario.value, o.verdict.value) for o in simulation.outcomes
                if o.subject.startswith("DisaggregatedSet")}
    assert {(role, scenario) for role, scenario, _verdict in outcomes} >= {
        (role, scenario) for role in ("prefill", "decode") for scenario in ("minimum", "rollout", "drain")}
    assert ("prefill", "drain", "degraded") in outcomes and ("decode", "drain", "degraded") in outcomes
    assert all(verdict != "blocked" for _role, _scenario, verdict in outcomes)


def test_plan_prices_each_role_of_the_set() -> None:
    rows = plan_fleet(fleet_of(pd_service(disaggregation=AS_SET)))
    assert [(row.service, row.gpus_per_replica, row.replicas_min) for row in rows] == [
        ("llama-pd-prefill", 4, 2), ("llama-pd-decode", 4, 2)]


def test_a_set_role_cannot_autoscale_even_through_the_fleet() -> None:
    with pytest.raises(ValidationError, match=r"disaggregation\.prefill\.autoscaling"):
        fleet_of(pd_service(disaggregation={**AS_SET, "prefill": {"autoscaling": {"min_replicas": 1,
                                                                                   "max_replicas": 2}}}))


def test_slices_copy_the_whole_topology() -> None:
    fleet = fleet_of(pd_service(disaggregation={**AS_SET, "slices": 2, "prefill": {"replicas": 3},
                                                "decode": {"replicas": 1}}))
    objects = render_fleet(fleet)
    [pd_set] = [obj for obj in objects if obj["kind"] == "DisaggregatedSet"]
    assert (pd_set["spec"]["slices"], [role["spec"]["replicas"] for role in pd_set["spec"]["roles"]]) == (2, [3, 1])
    assert [(row.service, row.replicas_min) for row in plan_fleet(fleet)] == [
        ("llama-pd-prefill", 6), ("llama-pd-decode", 2)]
    report = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    assert [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED] == []
    assert ("disaggregation.slices", "slices copy a DisaggregatedSet's topology: set workload: disaggregated-set, or "
            "raise the roles' replicas") in errors(pd_service(disaggregation={"slices": 2}))
