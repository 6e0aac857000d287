"""GitOps delivery: the Argo CD ApplicationSet and Flux Kustomization a stack gets (validated
against the vendored upstream CRD schemas), sync waves and prune protection on every object,
selectors no delivery tool rewrites, and one tool per stack."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import MANIFESTS_DIR, STACKS_DIR
from tests.rule_fixtures import GOOD_FLEET, LWS_FLEET
from vllm_infra.checker.loading import read_inputs
from vllm_infra.checker.schemas.validator import SchemaValidator
from vllm_infra.outputs.synth import synthesize
from vllm_infra.render import render_fleet
from vllm_infra.render.delivery import render_delivery
from vllm_infra.spec import FleetSpec
from vllm_infra.vocabulary.delivery import OPERATOR_KINDS
from vllm_infra.vocabulary.kubernetes import INSTANCE_LABEL, group_kind

PROVENANCE = Path(__file__).parent.parent / "vllm_infra" / "checker" / "schemas" / "crds" / "PROVENANCE.json"
VENDORED_KINDS = {(record["group"], record["kind"]) for record in json.loads(PROVENANCE.read_text())}

VALIDATOR = SchemaValidator()
REFERENCE = {result.name: result for result in synthesize(STACKS_DIR)}


def delivered(fleet: dict[str, Any], **delivery: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    spec = FleetSpec.model_validate({**fleet, "delivery": delivery})
    objects = render_fleet(spec)
    return objects, render_delivery(spec, "prod", objects)


def test_reference_stacks_choose_one_tool_each() -> None:
    assert {name: [o["kind"] for o in result.delivery] for name, result in REFERENCE.items()} == {
        "dev": [], "staging": ["Kustomization"], "prod": ["ApplicationSet"]}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_controller_objects_validate_against_the_upstream_crd_schemas(stack: str) -> None:
    (obj,) = REFERENCE[stack].delivery
    assert VALIDATOR.validate(obj) == []
    broken = copy.deepcopy(obj)
    broken["spec"]["syncPolicyy" if obj["kind"] == "ApplicationSet" else "prunee"] = True
    assert [v.message for v in VALIDATOR.validate(broken)] != []


def test_the_application_set_syncs_one_application_per_environment_on_request() -> None:
    (appset,) = REFERENCE["prod"].delivery
    assert appset["spec"]["generators"] == [{"list": {"elements": [
        {"environment": "prod", "path": "manifests/prod", "namespace": "llm-prod"}]}}]
    policy = appset["spec"]["template"]["spec"]["syncPolicy"]
    assert "automated" not in policy  # automated sync is opt-in
    assert policy["syncOptions"] == ["CreateNamespace=false", "ServerSideApply=true"]  # the Namespace is rendered
    assert policy["retry"]["limit"] == 5
    _, (automated,) = delivered(GOOD_FLEET, tool="argocd", repository="https://example.com/r.git", automated=True)
    assert automated["spec"]["template"]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    no_namespace = {**GOOD_FLEET, "namespace": {"name": "llm", "create": False}, "policy_profile": "dev"}
    _, (creating,) = delivered(no_namespace, tool="argocd", repository="https://example.com/r.git")
    assert creating["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"][0] == "CreateNamespace=true"


def test_every_custom_resource_the_stacks_render_waits_for_its_operator() -> None:
    """Each rendered kind whose schema is a vendored CRD has an operator: Argo CD syncs it after its
    CRD exists and Flux's Kustomization depends on that operator."""
    rendered = {group_kind(obj) for result in REFERENCE.values() for obj in result.objects}
    assert rendered & VENDORED_KINDS - OPERATOR_KINDS.keys() == set()
    assert {("disaggregatedset.x-k8s.io", "DisaggregatedSet"), ("kueue.x-k8s.io", "LocalQueue"),
            ("inference.networking.x-k8s.io", "InferenceObjective")} <= rendered


def test_flux_depends_on_the_operators_whose_crds_the_stack_uses() -> None:
    (staging,) = REFERENCE["staging"].delivery
    assert staging["spec"]["dependsOn"] == [{"name": name} for name in (
        "gateway-api", "gateway-api-inference-extension", "kueue", "lws", "prometheus-operator")]
    assert staging["spec"]["path"] == "./manifests/staging"
    _, (lws,) = delivered(LWS_FLEET, tool="flux", operators={"lws": "infra-lws"})
    assert lws["spec"]["dependsOn"] == [{"name": "infra-lws"}, {"name": "prometheus-operator"}]
    _, (routed,) = delivered(GOOD_FLEET, tool="flux")
    assert routed["spec"]["dependsOn"] == [{"name": "gateway-api"}, {"name": "gateway-api-inference-extension"},
                                           {"name": "prometheus-operator"}]


def test_argo_cd_needs_the_repository() -> None:
    with pytest.raises(ValidationError) as info:
        FleetSpec.model_validate({**GOOD_FLEET, "delivery": {"tool": "argocd"}})
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [
        (("delivery", "repository"), "Argo CD needs the repository URL to read the tree from")]


def test_custom_resources_sync_last_and_state_is_never_pruned() -> None:
    objects = [o for result in REFERENCE.values() for o in result.objects]
    for obj in objects:
        annotations = obj["metadata"]["annotations"]
        if group_kind(obj) in VENDORED_KINDS:  # custom resources
            assert (annotations["argocd.argoproj.io/sync-wave"],
                    annotations["argocd.argoproj.io/sync-options"]) == ("1", "SkipDryRunOnMissingResource=true")
        elif obj["kind"] in ("Namespace", "PersistentVolumeClaim"):
            assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"
            assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
        else:
            assert annotations["argocd.argoproj.io/sync-wave"] == "0"
    assert {o["kind"] for o in objects if "kustomize.toolkit.fluxcd.io/prune" in o["metadata"]["annotations"]} == {
        "Namespace", "PersistentVolumeClaim"}


def _selectors(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [value for key, value in node.items() if key in ("selector", "podSelector", "labelSelector")] + [
            found for value in node.values() for found in _selectors(value)]
    if isinstance(node, list):
        return [found for item in node for found in _selectors(item)]
    return []


def test_no_committed_selector_uses_the_instance_label() -> None:
    objects = [o.manifest for o in read_inputs([str(MANIFESTS_DIR)]).objects]
    selectors = [selector for obj in objects for selector in _selectors(obj.get("spec"))]
    assert len(selectors) > 50
    assert [s for s in selectors if INSTANCE_LABEL in str(s)] == []


def test_the_delivery_directory_stays_out_of_the_stack_kustomization() -> None:
    kustomization = (MANIFESTS_DIR / "prod" / "kustomization.yaml").read_text()
    assert (MANIFESTS_DIR / "prod" / "delivery" / "applicationset-vllm-prod.yaml").is_file()
    assert "delivery" not in kustomization
