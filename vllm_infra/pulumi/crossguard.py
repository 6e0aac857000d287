"""Wrap the rule catalog as a Pulumi CrossGuard policy pack (the same functions the CLI runs).

Resource rules become ``ResourceValidationPolicy`` objects keyed on the Kubernetes resource types,
bundle rules become ``StackValidationPolicy`` objects. Critical and high rules are mandatory, the
rest advisory. A value that is unknown at preview is never read as a pass: converting the resource
raises ``UnknownValueError`` and the engine reports the policy as not run during preview. Waived
findings are reported by one advisory policy instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity

from vllm_infra.checker.rules import (
    RULES,
    BundleRule,
    InputRule,
    ResourceRule,
    Rule,
    RuleContext,
    RuleFinding,
    WaiverRule,
    evaluate,
)
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION, PULUMI_TIMEOUT_ANNOTATION
from vllm_infra.vocabulary.paths import format_path
from vllm_infra.vocabulary.reporting import Profile, Severity

PACK_NAME = "vllm-infra"
WAIVERS_POLICY = "vllm-infra-waived-findings"
_PREFIX = "kubernetes:"


def _plain(value: Any) -> Any:
    """Resolve the SDK's unknown-checking proxies into plain data (raises UnknownValueError on an
    unknown); integral floats from the engine become ints again."""
    if isinstance(value, Mapping):
        return {str(key): _plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(value[index]) for index in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def api_version_kind(resource_type: str) -> tuple[str, str] | None:
    """``kubernetes:apps/v1:Deployment`` -> (``apps/v1``, ``Deployment``); core/v1 -> v1."""
    if not resource_type.startswith(_PREFIX) or resource_type.count(":") != 2:
        return None
    _, group_version, kind = resource_type.split(":")
    return ("v1" if group_version == "core/v1" else group_version), kind


def manifest(resource_type: str, props: Mapping[str, Any], ignore_changes: Iterable[str] | None = None,
             create_timeout: float | None = None) -> dict[str, Any] | None:
    """The Kubernetes object a resource registers, with Pulumi-only options projected onto it:
    ``ignore_changes: [spec.replicas]`` means Pulumi does not own the replica count, and custom
    timeouts are the await budget the timeout annotation would otherwise carry."""
    kind = api_version_kind(resource_type)
    if kind is None:
        return None
    obj: dict[str, Any] = _plain(props)
    obj.setdefault("apiVersion", kind[0])
    obj.setdefault("kind", kind[1])
    if "spec.replicas" in (ignore_changes or []) and isinstance(obj.get("spec"), dict):
        obj["spec"].pop("replicas", None)
    if create_timeout:
        annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
        annotations.setdefault(PULUMI_TIMEOUT_ANNOTATION, str(int(create_timeout)))
    return obj


def _options(resource: ResourceValidationArgs | PolicyResource) -> tuple[list[str], float | None]:
    opts = resource.opts
    timeouts = getattr(opts, "custom_timeouts", None)
    return list(getattr(opts, "ignore_changes", None) or []), getattr(timeouts, "create_seconds", None)


def _describe(finding: RuleFinding) -> str:
    meta = finding.obj.get("metadata") or {}
    path = format_path(finding.path)
    return (f"{finding.obj.get('kind')}/{meta.get('name')}: {finding.rule.id} {finding.severity}: {finding.message}"
            + (f" (at {path})" if path else "") + f". Fix: {finding.rule.remediation}")


def _enforcement(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.severity.rank >= Severity.HIGH.rank else EnforcementLevel.ADVISORY


def _resource_validator(rule: ResourceRule, context: RuleContext,
                        ) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        ignore, timeout = _options(args)
        obj = manifest(args.resource_type, args.props, ignore, timeout)
        if obj is None or not rule.applies_to(obj):
            return
        for finding in evaluate([obj], [rule], context):
            if finding.waiver is None:
                report_violation(_describe(finding), args.urn)
    return validate


def _bundle(resources: Iterable[PolicyResource]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    objects, urns = [], {}
    for resource in resources:
        ignore, timeout = _options(resource)
        obj = manifest(resource.resource_type, resource.props, ignore, timeout)
        if obj is not None:
            objects.append(obj)
            urns[id(obj)] = resource.urn
    return objects, urns


def _stack_validator(rules: list[Rule], context: RuleContext, waived: bool, only: Rule | None = None,
                     ) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects, urns = _bundle(args.resources)
        for finding in evaluate(objects, rules, context):
            if only is not None and finding.rule is not only:
                continue
            if waived and finding.waiver is not None:
                report_violation(f"waived ({finding.waiver}): {_describe(finding)}", urns.get(id(finding.obj)))
            elif not waived and finding.waiver is None:
                report_violation(_describe(finding), urns.get(id(finding.obj)))
    return validate


def _policy(rule: ResourceRule | BundleRule | WaiverRule, context: RuleContext) -> Policy:
    tags = ["kubernetes", "vllm", *(["gpu"] if rule.gpu_specific else [])]
    severity = PolicySeverity(rule.severity.value)
    if isinstance(rule, ResourceRule):
        return ResourceValidationPolicy(
            name=rule.id.lower(), description=rule.title, validate=_resource_validator(rule, context),
            enforcement_level=_enforcement(rule), severity=severity, remediation_steps=rule.remediation, tags=tags)
    if isinstance(rule, WaiverRule):  # waivers are judged against the findings of every rule
        validate = _stack_validator(list(RULES.values()), context, waived=False, only=rule)
    else:
        validate = _stack_validator([rule], context, waived=False)
    return StackValidationPolicy(
        name=rule.id.lower(), description=rule.title, validate=validate,
        enforcement_level=_enforcement(rule), severity=severity, remediation_steps=rule.remediation, tags=tags)


def policies(profile: Profile = Profile.RESTRICTED, kubernetes_version: str = KUBERNETES_VERSION) -> list[Policy]:
    """One policy per catalog rule that judges objects (how a YAML file reads does not apply to
    what a Pulumi program registers), plus the advisory report of waived findings."""
    context = RuleContext(profile=profile, pulumi=True, kubernetes_version=kubernetes_version)
    built = [_policy(rule, context) for rule in RULES.values() if not isinstance(rule, InputRule)]
    built.append(StackValidationPolicy(
        name=WAIVERS_POLICY, description="Findings waived with vllm-infra.io/waive.<rule-id> annotations",
        enforcement_level=EnforcementLevel.ADVISORY, severity=PolicySeverity.LOW,
        validate=_stack_validator(list(RULES.values()), context, waived=True)))
    return built


def policy_pack(profile: Profile = Profile.RESTRICTED, kubernetes_version: str = KUBERNETES_VERSION) -> PolicyPack:
    """The CrossGuard pack (constructing it starts the policy analyzer when run by the engine)."""
    return PolicyPack(name=PACK_NAME, policies=policies(profile, kubernetes_version),
                      description="vllm-infra rule catalog: GPU/LLM-aware Kubernetes policies")
