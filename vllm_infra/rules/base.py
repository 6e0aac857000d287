"""What a rule is: stable id, severity, scope, one-line title, remediation, and a pure function
over manifest dicts that yields violations."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from vllm_infra.kube import KUBERNETES_VERSION
from vllm_infra.policy import Profile, Severity

if TYPE_CHECKING:
    from vllm_infra.rules.bundle import Bundle

Manifest = Mapping[str, Any]
Path = tuple[str | int, ...]


class Scope(StrEnum):
    """What a rule looks at."""

    RESOURCE = "resource"
    """One object at a time (CrossGuard ResourceValidationPolicy)."""
    BUNDLE = "bundle"
    """All objects together (CrossGuard StackValidationPolicy)."""


@dataclass(frozen=True)
class RuleContext:
    """Knobs rules read; defaults match the catalog."""

    profile: Profile = Profile.RESTRICTED
    kubernetes_version: str = KUBERNETES_VERSION
    skip_kinds: frozenset[str] = frozenset()
    """Kinds (``Kind`` or ``group/version/Kind``) schema validation skips on purpose."""
    gpu_memory_utilization_ceiling: float = 0.92
    default_load_budget: int = 600
    image_pull_allowance: int = 300
    min_scale_down_stabilization: int = 300


@dataclass(frozen=True)
class Violation:
    """One failure found by a rule. Bundle rules name the object it belongs to (``obj``)."""

    path: Path
    message: str
    obj: Manifest | None = None
    severity: Severity | None = None
    """Overrides the rule's severity for a lesser finding (e.g. a warning inside a critical rule)."""
    waivable: bool = True
    """False when even a waiver must not hide this failure."""


ResourceCheck = Callable[[Manifest, RuleContext], Iterator[Violation]]
BundleCheck = Callable[["Bundle", RuleContext], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    """A catalog entry with its check function."""

    id: str
    severity: Severity
    scope: Scope
    title: str
    remediation: str
    check: Callable[..., Iterator[Violation]]
    kinds: frozenset[str] = field(default_factory=frozenset)
    """Kinds a resource rule inspects (empty: every kind)."""
    gpu_specific: bool = False

    def applies_to(self, obj: Manifest) -> bool:
        """Whether a resource rule looks at this object."""
        return not self.kinds or str(obj.get("kind")) in self.kinds


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, title: str, remediation: str, *, scope: Scope = Scope.RESOURCE,
         kinds: frozenset[str] | set[str] = frozenset(), gpu: bool = False,
         ) -> Callable[[Callable[..., Iterator[Violation]]], Callable[..., Iterator[Violation]]]:
    """Register a check function under a stable rule id."""

    def register(check: Callable[..., Iterator[Violation]]) -> Callable[..., Iterator[Violation]]:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        RULES[rule_id] = Rule(rule_id, severity, scope, title, remediation, check, frozenset(kinds), gpu)
        return check

    return register
