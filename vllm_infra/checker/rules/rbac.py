"""Cluster permissions of the vLLM ServiceAccount (it needs none)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.reading.objects import dig, name_of, namespace_of
from vllm_infra.checker.reading.server import is_vllm_workload
from vllm_infra.checker.reading.templates import pod_templates
from vllm_infra.checker.rules.base import RuleContext, Violation, bundle_rule
from vllm_infra.vocabulary.reporting import Severity

_SECRET_READ = {"get", "list", "watch", "*"}


def _rule_problems(rule_spec: Mapping[str, Any]) -> list[str]:
    resources = set(rule_spec.get("resources") or [])
    verbs = set(rule_spec.get("verbs") or [])
    problems = []
    if "*" in resources or "*" in verbs or "*" in set(rule_spec.get("apiGroups") or []):
        problems.append("wildcards")
    if ("secrets" in resources or "*" in resources) and verbs & _SECRET_READ:
        problems.append("reads Secrets")
    if resources & {"pods/exec", "pods/attach"}:
        problems.append("pods/exec or pods/attach")
    if "pods" in resources and verbs & {"create", "*"}:
        problems.append("creates pods")
    return problems


@bundle_rule(
    "VI-RBAC-001", Severity.HIGH, "The vLLM ServiceAccount holds no dangerous permissions",
    "Bind no Role to the model server's ServiceAccount; never wildcards, Secret reads, pods/exec, pod creation "
    "or cluster-admin.",
    rationale=("A model server that can read Secrets or exec into pods turns any prompt-injection or "
               "dependency compromise into cluster access."),
    example=("kind: Role\n"
             "rules: [{apiGroups: [\"\"], resources: [secrets], verbs: [get]}]   # bound to the vLLM ServiceAccount"))
def least_privilege(bundle: Bundle, ctx: RuleContext) -> Iterator[Violation]:
    accounts = {(namespace_of(obj), t.spec.get("serviceAccountName"))
                for obj in bundle.objects if is_vllm_workload(obj) for t in pod_templates(obj)}
    for binding in bundle.of_kind("RoleBinding", "ClusterRoleBinding"):
        subjects = {(s.get("namespace") or namespace_of(binding), s.get("name"))
                    for s in binding.get("subjects") or [] if s.get("kind") == "ServiceAccount"}
        if not subjects & accounts:
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("name") == "cluster-admin":
            yield Violation(("roleRef",), "binds cluster-admin to the vLLM ServiceAccount", obj=binding)
            continue
        role = bundle.find(str(ref.get("kind")), str(ref.get("name")),
                           None if ref.get("kind") == "ClusterRole" else namespace_of(binding) or None)
        for index, rule_spec in enumerate(dig(role, "rules", default=[]) or []):
            problems = _rule_problems(rule_spec)
            if problems and role is not None:
                yield Violation(("rules", index), f"{role.get('kind')}/{name_of(role)} bound to the vLLM "
                                                  f"ServiceAccount: {', '.join(problems)}", obj=role)
