"""The rule catalog: pure functions over Kubernetes object dicts, shared by the CLI (`vllm-infra
check`) and the Pulumi CrossGuard pack. Each rule module is listed here; the catalog is every
rule those modules define."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from vllm_infra.checker.reading.bundle import Bundle
from vllm_infra.checker.rules import (
    availability,
    capacity,
    delivery,
    disaggregation,
    gpu,
    hygiene,
    images,
    inputs,
    lora,
    multinode,
    network,
    placement,
    probes,
    rbac,
    resources,
    schema,
    security,
    versions,
    waivers,
)
from vllm_infra.checker.rules.base import (
    BundleRule,
    InputRule,
    ResourceRule,
    Rule,
    RuleContext,
    Scope,
    Violation,
    WaiverRule,
)
from vllm_infra.checker.rules.engine import RuleFinding, evaluate

RULE_MODULES: tuple[ModuleType, ...] = (availability, capacity, delivery, disaggregation, gpu, hygiene, images,
                                        inputs, lora, multinode, network, placement, probes, rbac, resources,
                                        schema, security, versions, waivers)
"""Modules that define rules (the others in this package are the machinery they share)."""


def catalog(modules: Iterable[ModuleType]) -> dict[str, Rule]:
    """Every rule the modules define, by id (sorted); a duplicate id is a programming error."""
    found: dict[str, Rule] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, ResourceRule | BundleRule | InputRule | WaiverRule):
                if value.id in found and found[value.id] is not value:
                    raise ValueError(f"duplicate rule id {value.id} in {module.__name__}")
                found[value.id] = value
    return dict(sorted(found.items()))


RULES: dict[str, Rule] = catalog(RULE_MODULES)

__all__ = [
    "RULES",
    "RULE_MODULES",
    "Bundle",
    "BundleRule",
    "InputRule",
    "ResourceRule",
    "Rule",
    "RuleContext",
    "RuleFinding",
    "Scope",
    "Violation",
    "WaiverRule",
    "evaluate",
]
