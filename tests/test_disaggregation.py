"""Prefill/decode disaggregation: the spec's roles, what they render (both roles, the pool, llm-d's
endpoint picker), and the checker on a hand-written pair modelled on llm-d's chart output, with
one mutation per mistake class."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tests.conftest import MINIMAL_SERVICE, deep_update
from vllm_infra.checker.pipeline import Status
from vllm_infra.checker.rules import RULES
from vllm_infra.checker.rules.base import RuleContext
from vllm_infra.checker.runner import check_objects, evaluate
from vllm_infra.operations.plan import plan_fleet
from vllm_infra.render import render_fleet
from vllm_infra.spec import VllmServiceSpec
from vllm_infra.spec.fleet import FleetSpec
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten" / "disaggregation.yaml"
PD_RULES = ("VI-PD-001", "VI-PD-002", "VI-PD-003")
WHY = "no trusted record of the digest yet"
Objects = list[dict[str, Any]]


def pair() -> Objects:
    return [copy.deepcopy(obj) for obj in yaml.safe_load_all(FIXTURE.read_text())]


def findings(objects: Objects, *rule_ids: str) -> list[tuple[str, str, str, str]]:
    return [(f.rule.id, f"{f.obj['kind']}/{f.obj['metadata']['name']}", str(f.severity), f.message)
            for f in evaluate(objects, [RULES[rule] for rule in rule_ids or PD_RULES], RuleContext())]


def workload(objects: Objects, name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["metadata"]["name"] == name)


def vllm(objects: Objects, name: str) -> dict[str, Any]:
    container: dict[str, Any] = workload(objects, name)["spec"]["template"]["spec"]["containers"][0]
    return container


def set_arg(objects: Objects, name: str, old: str, new: str | None) -> None:
    args = vllm(objects, name)["args"]
    if new is None:
        index = args.index(old)
        del args[index:index + 2]
    else:
        args[args.index(old)] = new


def sidecar(objects: Objects) -> dict[str, Any]:
    container: dict[str, Any] = workload(objects, "qwen-decode")["spec"]["template"]["spec"]["initContainers"][0]
    return container


def test_the_pair_as_llm_d_publishes_it_passes() -> None:
    assert findings(pair()) == []


Mutation = Callable[[Objects], object]
CASES: list[tuple[str, Mutation, list[tuple[str, str, str, str]]]] = [
    ("a connector without a kv_role", lambda o: set_arg(
        o, "qwen-decode", '{"kv_connector":"NixlConnector", "kv_role":"kv_both"}', '{"kv_connector":"NixlConnector"}'),
     [("VI-PD-001", "Deployment/qwen-decode", "critical", "vLLM refuses to start: kv_connector NixlConnector is set "
       "without a kv_role (one of kv_producer, kv_consumer, kv_both)")]),
    ("a configuration that is not JSON", lambda o: set_arg(
        o, "qwen-prefill", '{"kv_connector":"NixlConnector", "kv_role":"kv_both"}', "{kv_connector: NixlConnector}"),
     [("VI-PD-001", "Deployment/qwen-prefill", "critical", "vLLM refuses to start: --kv-transfer-config is not JSON: "
       "{kv_connector: NixlConnector}")]),
    ("the side channel left on localhost", lambda o: vllm(o, "qwen-prefill")["env"].pop(0),
     [("VI-PD-001", "Deployment/qwen-prefill", "high", "VLLM_NIXL_SIDE_CHANNEL_HOST is unset: vLLM publishes "
       "localhost as where its KV cache is, which no other pod can reach; set it from the pod's status.podIP")]),
    ("RDMA transports without an RDMA device", lambda o: vllm(o, "qwen-decode")["env"][2].update(value="rc,cuda_copy"),
     [("VI-PD-001", "Deployment/qwen-decode", "high", "UCX_TLS asks for RDMA transports (rc) but the container "
       "requests no RDMA device: UCX finds no InfiniBand/RoCE device to send on")]),
    ("a connector on the prefill side only", lambda o: set_arg(o, "qwen-decode", "--kv-transfer-config", None),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "decode pods of Deployment/qwen-decode set no "
       "--kv-transfer-config while prefill pods of the pair do: no KV cache passes between them")]),
    ("a decode engine that only sends", lambda o: set_arg(
        o, "qwen-decode", '{"kv_connector":"NixlConnector", "kv_role":"kv_both"}',
        '{"kv_connector":"NixlConnector", "kv_role":"kv_producer"}'),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "kv_role kv_producer on decode pods: a decode engine must "
       "receive KV (kv_both or kv_consumer)")]),
    ("TP sizes NIXL cannot map", lambda o: set_arg(o, "qwen-decode", "4", "3"),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "NIXL cannot move the KV cache from prefill TP 2 "
       "(Deployment/qwen-prefill) to decode TP 3: one must divide the other")]),
    ("a decode TP below the prefill TP on a release that refuses it", lambda o: (
        set_arg(o, "qwen-decode", "4", "1"), vllm(o, "qwen-decode").update(image="vllm/vllm-openai:v0.11.0")),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "NIXL cannot move the KV cache from prefill TP 2 "
       "(Deployment/qwen-prefill) to decode TP 1: vLLM 0.11.0 needs a decode TP that is a multiple of the prefill "
       "TP")]),
    ("the sidecar forwarding to a port vLLM does not serve", lambda o: sidecar(o)["args"].__setitem__(
        1, "--vllm-port=8100"),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "the routing sidecar forwards to port 8100, where vLLM does not "
       "listen (it serves 8200)")]),
    ("the renamed port flag forwarding to a port vLLM does not serve", lambda o: sidecar(o)["args"].__setitem__(
        1, "--model-server-port=8100"),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "the routing sidecar forwards to port 8100, where vLLM does not "
       "listen (it serves 8200)")]),
    ("the sidecar beside the pool's port", lambda o: sidecar(o)["args"].__setitem__(0, "--port=8001"),
     [("VI-PD-002", "Deployment/qwen-decode", "high", "the routing sidecar listens on 8001 but InferencePool qwen "
       "sends requests to 8000: requests bypass it")]),
    ("decode pods without the sidecar", lambda o: workload(o, "qwen-decode")["spec"]["template"]["spec"].pop(
        "initContainers"),
     [("VI-PD-002", "Deployment/qwen-decode", "medium", "decode pods of Deployment/qwen-decode have no routing "
       "sidecar: the endpoint picker's prefill choice is never used and every request prefills on its decode pod")]),
    ("a pool with prefill pods only", lambda o: o.remove(workload(o, "qwen-decode")),
     [("VI-PD-002", "InferencePool/qwen", "high", "InferencePool qwen has prefill pods and no decode pods: requests "
       "have nowhere to decode")]),
    ("the picker serving another pool", lambda o: workload(o, "qwen-epp")["spec"]["template"]["spec"]["containers"][
        0]["args"].__setitem__(1, "qwen-pd"),
     [("VI-PD-003", "Deployment/qwen-epp", "high", "the endpoint picker serves InferencePool qwen-pd, which is not in "
       "namespace llm of the manifests")]),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CASES], ids=[name for name, _, _ in CASES])
def test_each_mistake_class_is_found(mutate: Mutation, expected: list[tuple[str, str, str, str]]) -> None:
    objects = pair()
    mutate(objects)
    assert findings(objects) == expected


def test_a_sidecar_left_at_its_default_port_is_still_the_sidecar() -> None:
    """llm-d's guides leave the sidecar's model-server port out (default 8200, where vLLM serves)."""
    objects = pair()
    del sidecar(objects)["args"][1]
    assert findings(objects) == []
    vllm(objects, "qwen-decode")["args"][vllm(objects, "qwen-decode")["args"].index("--port") + 1] = "8300"
    assert [message for _rule, _obj, _severity, message in findings(objects)] == [
        "the routing sidecar forwards to port 8200, where vLLM does not listen (it serves 8300)"]


def test_a_decode_tp_below_the_prefill_tp_is_bridged_from_0_19_1() -> None:
    objects = pair()
    set_arg(objects, "qwen-decode", "4", "1")
    assert findings(objects) == []


def test_role_pods_pair_by_model_without_a_pool_in_the_manifests() -> None:
    """llm-d's chart output carries no pool: its roles share llm-d.ai/model."""
    objects = pair()
    objects.remove(workload(objects, "qwen"))
    set_arg(objects, "qwen-decode", "--kv-transfer-config", None)
    assert [f[3] for f in findings(objects, "VI-PD-002")] == [
        "decode pods of Deployment/qwen-decode set no --kv-transfer-config while prefill pods of the pair do: no KV "
        "cache passes between them"]


def test_an_rdma_device_serves_the_rdma_transports() -> None:
    objects = pair()
    vllm(objects, "qwen-decode")["env"][2].update(value="rc,cuda_copy")
    vllm(objects, "qwen-decode")["resources"]["limits"]["rdma/ib"] = 1
    assert findings(objects) == []


def pd_service(**changes: Any) -> dict[str, Any]:
    return deep_update(MINIMAL_SERVICE, deep_update({
        "name": "llama-pd", "model": {"id": "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "max_model_len": 16384},
        "image": {"tag": "v0.20.2", "unpinned_reason": WHY}, "accelerator": {"type": "H100-80GB"},
        "parallelism": {"tensor": 4},
        "scheduling": {"priority_class": "llm-serving", "spread_nodes": "required"},
        "routing": {"gateway": {"name": "gw", "namespace": "gateway"}},
        "network_policy": {"api_client_namespaces": ["gateway"]},
        "disaggregation": {"prefill": {"replicas": 2}, "decode": {"replicas": 2}, "router": {
            "objectives": {"interactive": 10, "batch": 0},
            "endpoint_picker": {"repository": "ghcr.io/llm-d/llm-d-inference-scheduler", "unpinned_reason": WHY},
            "sidecar": {"repository": "ghcr.io/llm-d/llm-d-routing-sidecar", "unpinned_reason": WHY}}}}, changes))


def fleet_of(*services: dict[str, Any]) -> FleetSpec:
    return FleetSpec.model_validate({"environment": "prod", "namespace": {"name": "llm"}, "services": list(services)})


def errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        VllmServiceSpec.model_validate(data)
    return [(format_path(tuple(e["loc"])), e["msg"]) for e in info.value.errors()]


def test_a_disaggregated_service_is_two_roles() -> None:
    service = VllmServiceSpec.model_validate(pd_service(disaggregation={"decode": {"parallelism": {"tensor": 8},
                                                                                  "replicas": 1}}))
    assert [(unit.name, unit.role, unit.parallelism.tensor, unit.availability.replicas) for unit in service.units] == [
        ("llama-pd-prefill", "prefill", 4, 2), ("llama-pd-decode", "decode", 8, 1)]
    assert all(unit.pair is service.disaggregation for unit in service.units)


def test_the_rendered_pair_passes_check_under_restricted() -> None:
    objects = render_fleet(fleet_of(pd_service()))
    names = sorted(f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects)
    assert names == sorted([
        "Namespace/llm", "Role/llama-pd-epp", "RoleBinding/llama-pd-epp", "ConfigMap/llama-pd-epp",
        "InferencePool/llama-pd", "InferenceObjective/batch", "InferenceObjective/interactive", "HTTPRoute/llama-pd",
        *(f"{kind}/llama-pd-{part}" for kind in ("ServiceAccount", "Service", "Deployment", "NetworkPolicy")
          for part in ("prefill", "decode", "epp")),
        *(f"PodDisruptionBudget/llama-pd-{role}" for role in ("prefill", "decode"))])
    report = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    failed = [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED]
    assert failed == []
    assert sorted({f.subject for f in report.findings if f.status == Status.WAIVED}) == [
        "ghcr.io/llm-d/llm-d-inference-scheduler:v0.8.0", "ghcr.io/llm-d/llm-d-routing-sidecar:v0.8.0",
        "vllm/vllm-openai:v0.20.2"]


def test_decode_pods_serve_through_the_sidecar_and_probe_vllm_itself() -> None:
    objects = render_fleet(fleet_of(pd_service()))
    decode = next(o for o in objects if o["metadata"]["name"] == "llama-pd-decode" and o["kind"] == "Deployment")
    pod = decode["spec"]["template"]["spec"]
    [proxy] = pod["initContainers"]
    assert (proxy["restartPolicy"], proxy["args"]) == ("Always", [
        "--port=8000", "--vllm-port=8200", "--kv-connector=nixlv2", "--secure-proxy=false"])
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in proxy["env"]
    server = pod["containers"][0]
    assert "--port=8200" in server["args"]
    assert '--kv-transfer-config={"kv_connector":"NixlConnector","kv_role":"kv_both"}' in server["args"]
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": "vllm"}
    assert decode["spec"]["template"]["metadata"]["labels"]["llm-d.ai/role"] == "decode"
    service = next(o for o in objects if o["metadata"]["name"] == "llama-pd-decode" and o["kind"] == "Service")
    assert service["spec"]["ports"][0]["targetPort"] == 8000


@pytest.mark.parametrize(("release", "handler", "parameters"), [
    ("v0.8.0", "disagg-profile-handler", {"deciders": {"prefill": "prefix-based-pd-decider"}}),
    ("v0.6.1", "pd-profile-handler", {"primaryPort": 8000, "deciderPluginName": "prefix-based-pd-decider"}),
])
def test_the_picker_config_names_plugins_as_its_release_does(release: str, handler: str,
                                                             parameters: dict[str, Any]) -> None:
    objects = render_fleet(fleet_of(pd_service(disaggregation={"router": {"release": release}})))
    config = yaml.safe_load(next(o for o in objects if o["kind"] == "ConfigMap")["data"]["epp-config.yaml"])
    assert config["plugins"][-1] == {"type": handler, "parameters": parameters}
    assert [profile["name"] for profile in config["schedulingProfiles"]] == ["prefill", "decode"]
    sidecar_flag = "--kv-connector" if release != "v0.6.1" else "--connector"
    decode = next(o for o in objects if o["metadata"]["name"] == "llama-pd-decode" and o["kind"] == "Deployment")
    assert f"{sidecar_flag}=nixlv2" in decode["spec"]["template"]["spec"]["initContainers"][0]["args"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"image": {"tag": "v0.9.2"}}, ("image", "disaggregation needs vLLM 0.10.0 or later (NixlConnector); the image has "
                                             "0.9.2")),
    ({"image": {"tag": "v0.11.0"}, "disaggregation": {"decode": {"parallelism": {"tensor": 2}}}},
     ("disaggregation.decode.parallelism.tensor", "NIXL cannot move the KV cache from prefill TP 4 to decode TP 2: "
      "the decode TP must be a multiple of the prefill TP in vLLM 0.11.0 (from 0.19.1 either may be larger)")),
    ({"name": "a-very-long-service-name-for-pd-roles"}, (
        "name", "at most 32 characters with disaggregation: its roles are named "
                "a-very-long-service-name-for-pd-roles-prefill and a-very-long-service-name-for-pd-roles-decode")),
    ({"autoscaling": {"min_replicas": 1, "max_replicas": 2}}, (
        "autoscaling", "each role scales on its own: set disaggregation.prefill.autoscaling and "
                       "disaggregation.decode.autoscaling instead")),
    ({"model": {"extra_args": {"kv-transfer-config": "{}"}}}, (
        "model.extra_args.kv-transfer-config", "disaggregation sets --kv-transfer-config for both roles")),
], ids=["release-without-nixl", "tp-nixl-cannot-bridge", "name-too-long", "autoscaling-on-the-pair", "own-connector"])
def test_what_a_disaggregated_service_may_not_combine(change: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors(pd_service(**change))


def test_a_role_that_does_not_fit_is_reported_under_its_role() -> None:
    assert errors(pd_service(disaggregation={"prefill": {"accelerator": {"type": "L4"}}}))[0][0] == \
        "disaggregation.prefill.model"


def test_role_is_never_written_by_hand() -> None:
    assert errors(deep_update(MINIMAL_SERVICE, {"role": "prefill"})) == [
        ("role", "Value error, set by disaggregation on the roles it derives; declare disaggregation instead")]


def test_the_picker_images_are_pinned_or_waived_under_restricted() -> None:
    data = pd_service(disaggregation={"router": {"sidecar": {"unpinned_reason": None}}})
    with pytest.raises(ValidationError, match=r"services\.0\.disaggregation\.router\.sidecar\.digest"):
        fleet_of(data)


def test_plan_prices_each_role() -> None:
    rows = plan_fleet(fleet_of(pd_service()))
    assert [(row.service, row.gpus_per_replica, row.replicas_min) for row in rows] == [
        ("llama-pd-prefill", 4, 2), ("llama-pd-decode", 4, 2)]


def test_a_role_name_may_not_be_another_service() -> None:
    other = deep_update(MINIMAL_SERVICE, {"name": "llama-pd-decode", "image": {"unpinned_reason": WHY}})
    with pytest.raises(ValidationError, match="llama-pd-decode, a name this service renders, is also one of services"):
        fleet_of(other, pd_service())


def test_a_side_channel_host_from_env_from_is_not_judged() -> None:
    """A ConfigMap or Secret named by envFrom may set VLLM_NIXL_SIDE_CHANNEL_HOST; its keys are not
    in the pod spec."""
    objects = pair()
    server = vllm(objects, "qwen-prefill")
    server["env"].pop(0)
    server["envFrom"] = [{"configMapRef": {"name": "nixl-env"}}]
    assert findings(objects) == []


def test_a_pair_that_serves_adapters_routes_by_the_loaded_adapter() -> None:
    adapter = {"name": "sql", "source": "acme/llama-3.3-70b-sql-lora", "revision": "1" * 40, "rank": 16}
    objects = render_fleet(fleet_of(pd_service(lora={"adapters": [adapter]})))
    config = yaml.safe_load(next(o for o in objects if o["kind"] == "ConfigMap")["data"]["epp-config.yaml"])
    assert {"type": "lora-affinity-scorer"} in config["plugins"]
    assert [[ref for ref in profile["plugins"] if ref["pluginRef"] == "lora-affinity-scorer"]
            for profile in config["schedulingProfiles"]] == [[{"pluginRef": "lora-affinity-scorer", "weight": 1}]] * 2
    report = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    assert [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED] == []
    plain = render_fleet(fleet_of(pd_service()))
    assert "lora-affinity-scorer" not in next(o for o in plain if o["kind"] == "ConfigMap")["data"]["epp-config.yaml"]


RDMA = {"resource": "rdma/ib", "count": 1}


def rdma_fleet(profile: str = "rdma", pod_security: str = "privileged") -> dict[str, Any]:
    return {"environment": "prod", "policy_profile": profile,
            "namespace": {"name": "llm", "pod_security": pod_security},
            "services": [pd_service(disaggregation={"rdma": RDMA})]}


def test_rdma_pods_get_the_device_and_ipc_lock_and_pass_the_rdma_profile() -> None:
    objects = render_fleet(FleetSpec.model_validate(rdma_fleet()))
    for role in ("prefill", "decode"):
        server = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == f"llama-pd-{role}"
                      )["spec"]["template"]["spec"]["containers"][0]
        assert (server["resources"]["requests"]["rdma/ib"], server["resources"]["limits"]["rdma/ib"]) == (1, 1)
        assert server["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["IPC_LOCK"]}
    report = check_objects(objects, "pd", profile=Profile.RDMA)
    assert [(f.rule.id, f.message) for f in report.findings if f.status == Status.FAILED] == []
    restricted = check_objects(objects, "pd", profile=Profile.RESTRICTED)
    assert {f.rule.id for f in restricted.findings if f.status == Status.FAILED} >= {"VI-SEC-004"}


@pytest.mark.parametrize(("profile", "pod_security", "message"), [
    ("restricted", "restricted", "RDMA memory registration needs IPC_LOCK, which the restricted profile does not admit "
                                 "(VI-SEC-004): use policy_profile: rdma"),
    ("rdma", "restricted", "the namespace enforces the restricted Pod Security level, which refuses IPC_LOCK "
                           "(VI-SEC-016): set namespace.pod_security: privileged"),
])
def test_rdma_needs_a_profile_and_namespace_that_admit_ipc_lock(profile: str, pod_security: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        FleetSpec.model_validate(rdma_fleet(profile, pod_security))
    assert [(format_path(tuple(e["loc"])), e["msg"].removeprefix("Value error, ")) for e in info.value.errors()] == [
        ("services[0].disaggregation.rdma", message)]


@pytest.mark.parametrize(("devices", "verdict", "reason"), [
    ({"rdma/ib": 8}, "ok", ""),
    ({}, "blocked", "0/2 nodes are available: 2 Insufficient rdma/ib."),
])
def test_rdma_pods_need_nodes_that_advertise_the_device(devices: dict[str, int], verdict: str, reason: str) -> None:
    from vllm_infra.checker.simulation.outcomes import Scenario
    from vllm_infra.checker.simulation.scenarios import simulate_manifests
    from vllm_infra.operations.simulate import cluster_of
    from vllm_infra.spec.cluster import ClusterSpec

    pool = {"name": "h100", "gpu": "H100-80GB", "cpu": "191", "memory": "1900Gi", "ephemeral_storage": "500Gi",
            "nodes": 2, "devices": devices}
    objects = render_fleet(FleetSpec.model_validate(rdma_fleet()))
    simulation = simulate_manifests(cluster_of(ClusterSpec.model_validate({"node_pools": [pool]})), objects)
    [prefill] = [o for o in simulation.of(Scenario.MINIMUM) if o.subject == "Deployment/llm/llama-pd-prefill"]
    assert (prefill.verdict.value, prefill.reason) == (verdict, reason)
