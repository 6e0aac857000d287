"""The Pulumi adapter under the SDK's mocks: glue only (all Kubernetes logic is tested through the
pure renderer), plus parity between `pulumi up` and `vllm-infra synth` for every stack."""

from __future__ import annotations

import runpy
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from ruamel.yaml import YAML

from tests.conftest import MINIMAL_SERVICE, REFERENCE_STACKS, STACKS_DIR, deep_update
from tests.pulumi_harness import Recorder, run
from vllm_infra.outputs.synth import synthesize
from vllm_infra.pulumi import VllmFleet, VllmFleetArgs, VllmService, VllmServiceArgs
from vllm_infra.pulumi.component import FLEET_TYPE, SERVICE_TYPE
from vllm_infra.render import RenderContext, render_service
from vllm_infra.spec import FleetSpec, VllmServiceSpec

PROGRAM = STACKS_DIR / "__main__.py"


def stack_config(stack: str) -> Any:
    return YAML(typ="safe").load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["vllm-infra:fleet"]


def run_program() -> None:
    """Execute stacks/__main__.py as `pulumi up` would."""
    runpy.run_path(str(PROGRAM), run_name="__main__")


def keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}


def service_program(data: dict[str, Any], captured: dict[str, Any],
                    opts: Callable[[], pulumi.ResourceOptions] | None = None) -> Callable[[], Any]:
    def program() -> Any:
        spec = VllmServiceSpec.model_validate(data)
        component = VllmService("llama", VllmServiceArgs(spec=spec, namespace="llm", environment="dev"),
                                opts() if opts else None)
        captured["component"] = component
        return pulumi.Output.all(component.namespace, component.service_name, component.url,
                                 component.gpus_per_replica, component.max_gpus).apply(
            lambda values: captured.update(outputs=values))
    return program


def test_service_component_token_parenting_and_one_child_per_object(monkeypatch: pytest.MonkeyPatch) -> None:
    data = deep_update(MINIMAL_SERVICE, {"autoscaling": {"max_replicas": 3}})
    captured: dict[str, Any] = {}
    recorder = run(service_program(data, captured), monkeypatch=monkeypatch)
    component = recorder.by_name("llama")
    assert component.type == SERVICE_TYPE == "vllm-infra:kubernetes:VllmService"
    children = [r for r in recorder.registrations if r.parent == component.urn]
    expected = render_service(VllmServiceSpec.model_validate(data),
                              RenderContext(namespace="llm", environment="dev"))
    assert sorted((c.name, c.type) for c in children) == [
        ("llama-deployment", "kubernetes:apps/v1:Deployment"),
        ("llama-horizontalpodautoscaler", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"),
        ("llama-networkpolicy", "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        ("llama-poddisruptionbudget", "kubernetes:policy/v1:PodDisruptionBudget"),
        ("llama-service", "kubernetes:core/v1:Service"),
        ("llama-serviceaccount", "kubernetes:core/v1:ServiceAccount"),
    ]
    assert keyed(recorder.kubernetes_objects()) == keyed(expected)
    assert all(obj["metadata"]["name"] for obj in recorder.kubernetes_objects())


def test_service_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    data = deep_update(MINIMAL_SERVICE, {"accelerator": {"type": "H100-80GB"}, "parallelism": {"tensor": 4},
                                         "autoscaling": {"min_replicas": 2, "max_replicas": 3}})
    captured: dict[str, Any] = {}
    run(service_program(data, captured), monkeypatch=monkeypatch)
    assert captured["outputs"] == ["llm", "llama-8b", "http://llama-8b.llm.svc.cluster.local:8000", 4, 12]


def test_autoscaled_workload_ignores_replicas_and_waits_for_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    data = deep_update(MINIMAL_SERVICE, {"autoscaling": {"max_replicas": 3}, "lifecycle": {"startup_timeout": "40m"}})
    recorder = run(service_program(data, {}), monkeypatch=monkeypatch)
    workload = recorder.by_name("llama-deployment")
    assert workload.ignore_changes == ["spec.replicas"]
    assert workload.custom_timeouts == {"create": "3000s", "update": "3000s"}  # 10m pull + 40m startup
    assert recorder.by_name("llama-service").ignore_changes == []
    fixed = run(service_program(MINIMAL_SERVICE, {}), monkeypatch=monkeypatch)
    assert fixed.by_name("llama-deployment").ignore_changes == []


@pytest.mark.parametrize("option", ["provider", "providers"])
def test_provider_passes_through_to_every_child(monkeypatch: pytest.MonkeyPatch, option: str) -> None:
    def opts() -> pulumi.ResourceOptions:
        provider = k8s.Provider("target", context="gpu-cluster")
        return pulumi.ResourceOptions(**{option: provider if option == "provider" else [provider]})

    recorder = run(service_program(MINIMAL_SERVICE, {}, opts), monkeypatch=monkeypatch)
    provider = recorder.by_name("target")
    kubernetes = [r for r in recorder.registrations if r.type.startswith("kubernetes:")]
    assert kubernetes
    assert {r.provider for r in kubernetes} == {f"{provider.urn}::target-id"}


def test_names_and_parent_chain_are_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logical names and parents define URNs; renaming any of them would replace live resources."""
    recorder = run(run_program, stack="dev", config={"fleet": stack_config("dev")}, monkeypatch=monkeypatch)
    by_urn = {r.urn: r for r in recorder.registrations}

    def chain(name: str) -> list[tuple[str, str]]:
        registration, links = recorder.by_name(name), []
        while registration.parent in by_urn:
            registration = by_urn[registration.parent]
            links.append((registration.type, registration.name))
        return links

    assert chain("llama-8b-deployment")[:2] == [(SERVICE_TYPE, "llama-8b"), (FLEET_TYPE, "llm-fleet")]
    assert chain("llm-fleet-namespace")[:1] == [(FLEET_TYPE, "llm-fleet")]
    assert sorted(r.name for r in recorder.registrations if r.type.startswith("kubernetes:")) == [
        "llama-8b-deployment", "llama-8b-httproute", "llama-8b-networkpolicy", "llama-8b-scaledobject",
        "llama-8b-service", "llama-8b-serviceaccount", "llm-fleet-namespace", "qwen-7b-deployment",
        "qwen-7b-networkpolicy", "qwen-7b-service", "qwen-7b-serviceaccount"]


@pytest.mark.parametrize("stack", REFERENCE_STACKS)
def test_pulumi_and_synth_produce_the_same_objects(monkeypatch: pytest.MonkeyPatch, stack: str) -> None:
    config = stack_config(stack)
    mode = "cluster" if config.get("delivery", {}).get("tool", "pulumi") == "pulumi" else "gitops"
    recorder = run(run_program, stack=stack, config={"fleet": config, "mode": mode}, monkeypatch=monkeypatch)
    [synthesized] = synthesize(STACKS_DIR, [stack])
    registered = recorder.kubernetes_objects()
    assert len(registered) == len(synthesized.objects)
    assert keyed(registered) == keyed(synthesized.objects)


def test_fleet_outputs_and_namespace_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    def program() -> Any:
        fleet = FleetSpec.model_validate(stack_config("prod"))
        component = VllmFleet("fleet", VllmFleetArgs(fleet=fleet))
        return pulumi.Output.all(component.namespace, component.endpoints, component.max_gpus).apply(
            lambda values: captured.update(outputs=values))

    run(program, stack="prod", monkeypatch=monkeypatch)
    namespace, endpoints, max_gpus = captured["outputs"]
    assert namespace == "llm-prod"
    assert endpoints == {**{name: f"http://{name}.llm-prod.svc.cluster.local:8000"
                            for name in ("llama-8b", "qwen-7b", "llama-70b", "llama-405b")},
                         "llama-70b-pd": "http://llama-70b-pd-decode.llm-prod.svc.cluster.local:8000"}
    assert max_gpus == 6 * 1 + 2 * 1 + 4 * 4 + 2 * 16 + (2 * 4 + 2 * 4)  # the pair: prefill and decode roles


def provider_inputs(recorder: Recorder) -> dict[str, Any]:
    [provider] = [r for r in recorder.registrations if r.type == "pulumi:providers:kubernetes"]
    return provider.inputs


def test_gitops_mode_renders_yaml_to_a_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"fleet": stack_config("dev"), "mode": "gitops"}
    recorder = run(run_program, stack="dev", config=config, monkeypatch=monkeypatch)
    assert provider_inputs(recorder)["renderYamlToDirectory"] == "rendered/dev"
    config["renderDir"] = "out/dev"
    recorder = run(run_program, stack="dev", config=config, monkeypatch=monkeypatch)
    assert provider_inputs(recorder)["renderYamlToDirectory"] == "out/dev"


def test_cluster_mode_targets_the_configured_context(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"fleet": stack_config("dev"), "context": "gpu-cluster"}
    recorder = run(run_program, stack="dev", config=config, monkeypatch=monkeypatch)
    inputs = provider_inputs(recorder)
    assert inputs["context"] == "gpu-cluster"
    assert "renderYamlToDirectory" not in inputs


def run_expecting_error(monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]) -> str:
    with pytest.raises(pulumi.RunError) as info:
        run(run_program, stack="dev", config=config, monkeypatch=monkeypatch)
    return str(info.value)


def test_config_errors_list_every_problem_with_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = stack_config("dev")
    raw["namespace"]["name"] = "default"
    raw["services"][0]["parallelism"] = {"tensor": 2}
    raw["services"][0]["accelerator"] = {"count": 1}
    raw["services"][1]["modle"] = raw["services"][1].pop("model")
    assert run_expecting_error(monkeypatch, {"fleet": raw}) == (
        "Pulumi.dev.yaml vllm-infra:fleet: 5 problems:\n"
        "  namespace.name: 'default' is shared with other workloads; use a dedicated namespace (got 'default')\n"
        "  services[0].accelerator.count: accelerator.count (1) must equal parallelism.tensor (2) x "
        "parallelism.pipeline (1) / parallelism.nodes (1) = 2 GPUs per pod (got 1)\n"
        "  services[1].model.id: required field is missing\n"
        "  services[1].model.revision: required field is missing\n"
        "  services[1].modle: unknown field (did you mean 'model'?)")


def test_a_stack_argo_cd_delivers_is_refused_in_cluster_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_expecting_error(monkeypatch, {"fleet": stack_config("prod")}) == (
        "Pulumi.dev.yaml vllm-infra:fleet: delivery.tool is argocd, which applies this stack's objects; `pulumi up` "
        "in cluster mode would manage the same objects. Use vllm-infra:mode gitops, or delivery.tool pulumi")


def test_missing_fleet_and_bad_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_expecting_error(monkeypatch, {}) == (
        "Pulumi.dev.yaml vllm-infra:fleet: missing; set the fleet under 'config: vllm-infra:fleet:'")
    assert run_expecting_error(monkeypatch, {"fleet": stack_config("dev"), "mode": "helm"}) == (
        "vllm-infra:mode must be one of cluster, gitops (got 'helm')")
