"""Surviving the delivery tool: GitOps controllers and Helm-style tooling rewrite some labels, so
selectors must not depend on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.checker.rules.base import RuleContext, Violation, resource_rule
from vllm_infra.vocabulary.kubernetes import INSTANCE_LABEL, SERVICE_LABEL
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.reporting import Severity

SELECTOR_KEYS = frozenset({"selector", "podSelector", "labelSelector", "namespaceSelector"})
"""Fields that hold a label selector (or, for a Service, a plain label map) wherever they appear."""


def _selector_sites(node: Any, path: FieldPath) -> list[tuple[FieldPath, Mapping[str, Any]]]:
    """Every selector under ``node``, with its path (manifests are plain dicts and lists: this
    walks every node of every object, so no ABC checks)."""
    found: list[tuple[FieldPath, Mapping[str, Any]]] = []
    pending: list[tuple[Any, FieldPath]] = [(node, path)]
    while pending:
        current, where = pending.pop()
        if type(current) is dict:
            for key, value in current.items():
                kind = type(value)
                if key in SELECTOR_KEYS and kind is dict:
                    found.append(((*where, key), value))
                elif kind is dict or kind is list:
                    pending.append((value, (*where, key)))
        elif type(current) is list:
            pending += [(item, (*where, index)) for index, item in enumerate(current)
                        if type(item) is dict or type(item) is list]
    return found


def _instance_key(selector: Mapping[str, Any], path: FieldPath) -> FieldPath | None:
    """Where a selector keys on the instance label (matchLabels, matchExpressions or a plain map)."""
    labels = selector.get("matchLabels")
    if isinstance(labels, Mapping) and INSTANCE_LABEL in labels:
        return (*path, "matchLabels", INSTANCE_LABEL)
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        if isinstance(expression, Mapping) and expression.get("key") == INSTANCE_LABEL:
            return (*path, "matchExpressions", index, "key")
    if "matchLabels" not in selector and "matchExpressions" not in selector and INSTANCE_LABEL in selector:
        return (*path, INSTANCE_LABEL)
    return None


OBJECT_SELECTORS = {("ServiceMonitor", ("spec", "selector"))}
"""Selectors over other objects' metadata labels (the ones label tracking rewrites); the others
select pods, whose template labels Argo CD leaves as rendered."""


@resource_rule(
    "VI-DEL-001", Severity.HIGH, "Selectors avoid app.kubernetes.io/instance, which Argo CD rewrites",
    f"Select on a label no delivery tool manages (vllm-infra renders {SERVICE_LABEL}). Argo CD's label "
    "tracking sets app.kubernetes.io/instance to the Application name on every object it syncs, so a "
    "ServiceMonitor selecting it stops finding its Service and scraping (and the autoscalers' metric) stops.",
    rationale=("Argo CD's label tracking rewrites app.kubernetes.io/instance on every object it syncs, so "
               "selectors on it stop matching after the first sync."),
    example=("kind: ServiceMonitor\n"
             "spec:\n"
             "  selector: {matchLabels: {app.kubernetes.io/instance: llama}}"))
def selectors_survive_delivery(obj: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    for path, selector in _selector_sites(obj.get("spec"), ("spec",)):
        where = _instance_key(selector, path)
        if where is None:
            continue
        if (obj.get("kind"), path) in OBJECT_SELECTORS:
            yield Violation(where, f"selects Services on {INSTANCE_LABEL}, which Argo CD label tracking overwrites "
                                   "with the Application name: the Services are no longer found")
        else:
            yield Violation(where, f"selects pods on {INSTANCE_LABEL}, a label Argo CD and Helm-style tooling "
                                   "manage; select on a label of your own", severity=Severity.LOW)
