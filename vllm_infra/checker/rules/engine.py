"""Run the catalog over a set of objects and apply waivers.

A waiver is the annotation ``vllm-infra.io/waive.<rule-id>: "<reason>"`` on the object a finding
belongs to. Waived findings are reported as waived, never dropped; a waiver without a reason is
ignored and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vllm_infra.checker.rules.base import BundleRule, Manifest, ResourceRule, Rule, RuleContext, Violation
from vllm_infra.checker.rules.bundle import Bundle
from vllm_infra.checker.rules.k8s import shared_views
from vllm_infra.vocabulary.kubernetes import WAIVER_ANNOTATION_PREFIX
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity


@dataclass(frozen=True)
class RuleFinding:
    """A violation attributed to an object, with its effective severity and waiver state."""

    rule: Rule
    obj: Manifest
    path: FieldPath
    message: str
    severity: Severity
    waiver: str | None = None
    """The waiver's reason when the finding is waived."""


def _waiver(obj: Manifest, rule_id: str) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    reason = annotations.get(WAIVER_ANNOTATION_PREFIX + rule_id)
    return None if reason is None else str(reason).strip()


def evaluate(objects: Sequence[Manifest], rules: Iterable[Rule], context: RuleContext | None = None,
             ) -> list[RuleFinding]:
    """Findings of ``rules`` (resource rules per object, bundle rules once), deduplicated."""
    context = context or RuleContext()
    bundle = Bundle(list(objects))
    with shared_views():
        return _findings(bundle, context, list(rules))


def _findings(bundle: Bundle, context: RuleContext, rules: list[Rule]) -> list[RuleFinding]:
    """Resource rules run object by object (each object is read by every rule while it is still in
    the CPU cache, which keeps large trees linear); bundle rules then run once each."""
    resource_rules = [rule for rule in rules if isinstance(rule, ResourceRule)]
    by_kind: dict[str, list[ResourceRule]] = {}
    produced: list[tuple[Rule, Manifest, Violation]] = []
    for obj in bundle.objects:
        kind = str(obj.get("kind"))
        if kind not in by_kind:
            by_kind[kind] = [rule for rule in resource_rules if rule.applies_to(obj)]
        produced += [(rule, obj, violation) for rule in by_kind[kind] for violation in rule.check(obj, context)]
    produced += [(rule, violation.obj, violation) for rule in rules if isinstance(rule, BundleRule)
                 for violation in rule.check(bundle, context) if violation.obj is not None]
    findings: list[RuleFinding] = []
    seen: set[tuple[str, int, FieldPath, str]] = set()
    for current, obj, violation in produced:
        key = (current.id, id(obj), violation.path, violation.message)
        if key in seen:
            continue
        seen.add(key)
        message, waiver = violation.message, _waiver(obj, current.id)
        if waiver is not None and not violation.waivable:
            message, waiver = f"{message} (waiver not applicable to this failure)", None
        elif waiver == "":
            message, waiver = f"{message} (waiver ignored: it gives no reason)", None
        findings.append(RuleFinding(current, obj, violation.path, message,
                                    violation.severity or current.severity, waiver))
    return findings
