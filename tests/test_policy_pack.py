"""The CrossGuard pack, tested by calling its validators with constructed arguments (no engine)."""

from __future__ import annotations

import os
import runpy
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from tests.conftest import ROOT
from tests.rule_fixtures import container, find, good_objects, pod
from vllm_infra.checker.rules import RULES, InputRule, evaluate
from vllm_infra.pulumi import crossguard as pack_module
from vllm_infra.pulumi.crossguard import WAIVERS_POLICY, api_version_kind, policies

POLICIES = {p.name: p for p in policies()}


def resource_type(obj: dict[str, Any]) -> str:
    group_version = "core/v1" if obj["apiVersion"] == "v1" else obj["apiVersion"]
    return f"kubernetes:{group_version}:{obj['kind']}"


def urn(obj: dict[str, Any]) -> str:
    return f"urn:pulumi:prod::vllm-infra::{resource_type(obj)}::{obj['metadata']['name']}"


def options(ignore_changes: list[str] | None = None, create_seconds: float = 0) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, ignore_changes or [], None, [],
                                 PolicyCustomTimeouts(create_seconds, create_seconds, 0), [])


def engine_props(obj: dict[str, Any]) -> Any:
    """Props as the engine sends them: numbers are floats, wrapped in the unknown-checking proxy."""
    def floats(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: floats(v) for k, v in value.items()}
        if isinstance(value, list):
            return [floats(v) for v in value]
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return unknown_checking_proxy(floats(obj))


def validate_resource(policy_name: str, obj: dict[str, Any], opts: PolicyResourceOptions | None = None
                      ) -> list[tuple[str, str | None]]:
    reports: list[tuple[str, str | None]] = []
    args = ResourceValidationArgs(resource_type(obj), engine_props(obj), urn(obj), obj["metadata"]["name"],
                                  opts or options(), None)
    POLICIES[policy_name].validate(args, lambda message, target=None: reports.append((message, target)))
    return reports


def validate_stack(policy_name: str, objects: list[dict[str, Any]],
                   opts: dict[str, PolicyResourceOptions] | None = None) -> list[tuple[str, str | None]]:
    reports: list[tuple[str, str | None]] = []
    resources = [PolicyResource(resource_type(o), engine_props(o), urn(o), o["metadata"]["name"],
                                (opts or {}).get(o["metadata"]["name"] + "/" + o["kind"], options()), None, None,
                                [], {}) for o in objects]
    POLICIES[policy_name].validate(StackValidationArgs(resources),
                                   lambda message, target=None: reports.append((message, target)))
    return reports


def test_one_policy_per_rule_with_severity_driven_enforcement() -> None:
    assert len(POLICIES) == sum(1 for rule in RULES.values() if rule.scope != "input") + 1
    assert POLICIES["vi-sec-001"].enforcement_level == EnforcementLevel.MANDATORY
    assert POLICIES["vi-avl-008"].enforcement_level == EnforcementLevel.ADVISORY
    assert POLICIES[WAIVERS_POLICY].enforcement_level == EnforcementLevel.ADVISORY


def test_resource_types_map_to_api_versions() -> None:
    assert api_version_kind("kubernetes:core/v1:Service") == ("v1", "Service")
    assert api_version_kind("kubernetes:keda.sh/v1alpha1:ScaledObject") == ("keda.sh/v1alpha1", "ScaledObject")
    assert api_version_kind("aws:s3/bucket:Bucket") is None


def test_good_objects_pass_every_policy() -> None:
    objects = good_objects()
    for name, policy in POLICIES.items():
        if hasattr(policy, "validate") and name.startswith("vi-"):
            rule_kind = "stack" if type(policy).__name__ == "StackValidationPolicy" else "resource"
            if rule_kind == "stack":
                assert validate_stack(name, objects) == [], name
            else:
                for obj in objects:
                    assert validate_resource(name, obj) == [], (name, obj["kind"])


def test_resource_violation_is_reported_on_the_resource() -> None:
    objects = good_objects()
    container(objects)["securityContext"]["privileged"] = True
    deployment = find(objects, "Deployment", "llama")
    assert validate_resource("vi-sec-001", deployment) == [(
        "Deployment/llama: VI-SEC-001 critical: container 'vllm' runs privileged (at spec.template.spec.containers[0]."
        "securityContext.privileged). Fix: Remove securityContext.privileged; GPUs come from the device plugin, not "
        "from privileges.", urn(deployment))]


def test_stack_violation_names_the_offending_resource() -> None:
    objects = good_objects()
    find(objects, "PodDisruptionBudget", "small")["spec"]["maxUnavailable"] = 0
    [(message, target)] = validate_stack("vi-avl-002", objects)
    assert message.startswith("PodDisruptionBudget/small: VI-AVL-002 critical: maxUnavailable 0 blocks every drain")
    assert target == urn(find(objects, "PodDisruptionBudget", "small"))


def test_unknown_values_at_preview_are_not_evaluated_not_passed() -> None:
    objects = good_objects()
    container(objects)["image"] = UNKNOWN_STRING_VALUE
    with pytest.raises(UnknownValueError):
        validate_resource("vi-img-001", find(objects, "Deployment", "llama"))


def test_ignore_changes_satisfies_replica_ownership() -> None:
    objects = good_objects()
    find(objects, "Deployment", "llama")["spec"]["replicas"] = 2
    assert len(validate_stack("vi-avl-006", objects)) == 1
    owned = {"llama/Deployment": options(ignore_changes=["spec.replicas"])}
    assert validate_stack("vi-avl-006", objects, owned) == []


def test_custom_timeouts_count_as_the_await_budget() -> None:
    objects = good_objects()
    deployment = find(objects, "Deployment", "llama")
    deployment["metadata"]["annotations"].pop("pulumi.com/timeoutSeconds")
    [(message, _)] = validate_resource("vi-pul-001", deployment)
    assert "await budget 600s < 1140s" in message
    assert validate_resource("vi-pul-001", deployment, options(create_seconds=1500)) == []


def test_waived_findings_move_to_the_advisory_report() -> None:
    objects = good_objects()
    pod(objects).pop("priorityClassName")
    deployment = find(objects, "Deployment", "llama")
    [finding] = evaluate(objects, [RULES["VI-AVL-008"]])
    deployment["metadata"]["annotations"]["vllm-infra.io/waive.VI-AVL-008"] = \
        f"accepts={finding.fingerprint}; dedicated node pool"
    assert validate_resource("vi-avl-008", deployment) == []
    [(message, target)] = validate_stack(WAIVERS_POLICY, objects)
    assert message.startswith("waived (dedicated node pool): Deployment/llama: VI-AVL-008 medium: no "
                              "priorityClassName")
    assert target == urn(deployment)


def test_pack_entry_point_builds_the_pack_with_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}

    def fake_pack(**kwargs: Any) -> None:
        built.update(kwargs)

    monkeypatch.setattr(pack_module, "PolicyPack", fake_pack)
    monkeypatch.setitem(os.environ, "VLLM_INFRA_POLICY_PROFILE", "dev")
    runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    assert built["name"] == "vllm-infra"
    assert len(built["policies"]) == len([rule for rule in RULES.values() if not isinstance(rule, InputRule)]) + 1
    small = good_objects()
    find(small, "Deployment", "small")["spec"]["replicas"] = 1
    policy = {p.name: p for p in built["policies"]}["vi-avl-004"]
    reports: list[str] = []
    policy.validate(StackValidationArgs([PolicyResource(resource_type(o), engine_props(o), urn(o), "n", options(),
                                                        None, None, [], {}) for o in small]),
                    lambda message, target=None: reports.append(message))
    assert reports == []
