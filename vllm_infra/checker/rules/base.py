"""What a rule is: a stable id, severity, one-line title, remediation, and a pure function over
manifest dicts that yields violations. Resource rules see one object, bundle rules all of them;
``@resource_rule`` and ``@bundle_rule`` turn a check function into a catalog entry."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from vllm_infra.catalog.architectures import ModelArchitecture
from vllm_infra.catalog.gpus import GpuType
from vllm_infra.checker.reading.objects import Manifest
from vllm_infra.vocabulary.kubernetes import KUBERNETES_VERSION
from vllm_infra.vocabulary.limits import (
    IMAGE_PULL_ALLOWANCE_SECONDS,
    MIN_SCALE_DOWN_STABILIZATION_SECONDS,
    MIN_STARTUP_SECONDS,
)
from vllm_infra.vocabulary.paths import FieldPath
from vllm_infra.vocabulary.profiles import ProfilePolicy, policy_of
from vllm_infra.vocabulary.reporting import Profile, Severity

if TYPE_CHECKING:
    from vllm_infra.checker.reading.bundle import Bundle
    from vllm_infra.checker.simulation.outcomes import Simulation


class Scope(StrEnum):
    """What a rule looks at."""

    RESOURCE = "resource"
    """One object at a time (CrossGuard ResourceValidationPolicy)."""
    BUNDLE = "bundle"
    """All objects together (CrossGuard StackValidationPolicy)."""
    INPUT = "input"
    """How a file reads (syntax, duplicate keys), found while loading it."""
    WAIVERS = "waivers"
    """Waivers set against the findings of the other rules, found by the engine."""


@dataclass(frozen=True)
class RuleContext:
    """Knobs rules read; defaults are the shared limits."""

    profile: Profile = Profile.RESTRICTED
    kubernetes_version: str = KUBERNETES_VERSION
    skip_kinds: frozenset[str] = frozenset()
    """Kinds (``Kind`` or ``group/version/Kind``) schema validation skips on purpose."""
    ignore_missing_schemas: bool = False
    """Kinds without a schema pass unvalidated instead of being reported (VI-SCH-006)."""
    default_load_budget: int = MIN_STARTUP_SECONDS
    image_pull_allowance: int = IMAGE_PULL_ALLOWANCE_SECONDS
    min_scale_down_stabilization: int = MIN_SCALE_DOWN_STABILIZATION_SECONDS
    pulumi: bool = False
    """The objects are what a Pulumi program registers (CrossGuard): Pulumi-only rules apply to all."""
    gpu: GpuType | None = None
    """The GPU type assumed for pods that pin none (``check --gpu``)."""
    architectures: tuple[tuple[str, ModelArchitecture], ...] = ()
    """Architectures of models missing from the catalog, by model id (``check --model-config``)."""
    severities: tuple[tuple[str, Severity], ...] = ()
    """Severity per rule id, replacing the catalog's for every finding of that rule (a repository's
    configuration)."""
    schema_dirs: tuple[str, ...] = ()
    """Directories of the user's own schemas (CRDs, JSON Schema), validated against like the vendored ones."""
    today: datetime.date | None = None
    """The date waiver expiries are judged on (None: today's)."""
    simulation: Simulation | None = None
    """The scheduling simulation on a declared cluster (``check --cluster``, a stack's
    ``cluster``): placement, rollout and drain rules decide by it instead of by heuristics."""

    def severity_of(self, rule_id: str, severity: Severity) -> Severity:
        """A finding's severity once the configured severities apply."""
        return dict(self.severities).get(rule_id, severity)

    @property
    def policy(self) -> ProfilePolicy:
        """What the profile relaxes and admits."""
        return policy_of(self.profile)


@dataclass(frozen=True)
class Violation:
    """One failure found by a rule. Bundle rules name the object it belongs to (``obj``)."""

    path: FieldPath
    message: str
    obj: Manifest | None = None
    severity: Severity | None = None
    """Overrides the rule's severity for a lesser finding (e.g. a warning inside a critical rule)."""
    waivable: bool = True
    """False when even a waiver must not hide this failure."""
    subject: str | None = None
    """What the finding is about, in the words a waiver accepts (an image reference, a model id);
    None when only the finding's fingerprint names it."""


ResourceCheck = Callable[[Manifest, RuleContext], Iterator[Violation]]
BundleCheck = Callable[["Bundle", RuleContext], Iterator[Violation]]


@dataclass(frozen=True)
class _RuleInfo:
    id: str
    severity: Severity
    title: str
    remediation: str
    gpu_specific: bool
    rationale: str = field(default="", kw_only=True)
    """Why the rule exists: what breaks, or what an attacker gets, when it fails."""
    example: str = field(default="", kw_only=True)
    """A short manifest fragment the rule fails (``vllm-infra rules <id>`` shows it)."""

    def __post_init__(self) -> None:
        _DEFINED.setdefault(self.id, self)

    def __reduce__(self) -> tuple[Callable[[str], object], tuple[str]]:
        """A rule travels between processes as its id (its check function is the catalog's)."""
        return rule_by_id, (self.id,)


_DEFINED: dict[str, _RuleInfo] = {}
"""Every rule made, by id (the catalog checks that ids are unique)."""


def rule_by_id(rule_id: str) -> _RuleInfo:
    """The rule with this id, as this process defined it."""
    return _DEFINED[rule_id]


@dataclass(frozen=True)
class ResourceRule(_RuleInfo):
    """A rule over one object at a time."""

    check: ResourceCheck
    kinds: frozenset[str] = field(default_factory=frozenset)
    """Kinds the rule inspects (empty: every kind)."""
    scope = Scope.RESOURCE

    @property
    def name(self) -> str:
        """A short identifier (SARIF ``name``): the check function's."""
        return self.check.__name__

    def applies_to(self, obj: Manifest) -> bool:
        """Whether the rule looks at this object."""
        return not self.kinds or str(obj.get("kind")) in self.kinds


@dataclass(frozen=True)
class BundleRule(_RuleInfo):
    """A rule over all objects checked together."""

    check: BundleCheck
    scope = Scope.BUNDLE

    @property
    def name(self) -> str:
        """A short identifier (SARIF ``name``): the check function's."""
        return self.check.__name__


@dataclass(frozen=True)
class InputRule(_RuleInfo):
    """A finding about how a file reads, raised by the loader rather than computed from objects."""

    name: str
    """A short identifier (SARIF ``name``)."""
    scope = Scope.INPUT


@dataclass(frozen=True)
class WaiverRule(_RuleInfo):
    """A finding about waivers themselves (one that covers nothing), raised by the engine."""

    name: str
    """A short identifier (SARIF ``name``)."""
    scope = Scope.WAIVERS


Rule = ResourceRule | BundleRule | InputRule | WaiverRule


def resource_rule(rule_id: str, severity: Severity, title: str, remediation: str, *,
                  kinds: frozenset[str] | set[str] = frozenset(), gpu: bool = False, rationale: str = "",
                  example: str = "") -> Callable[[ResourceCheck], ResourceRule]:
    """Make a per-object check function a catalog entry."""

    def make(check: ResourceCheck) -> ResourceRule:
        return ResourceRule(rule_id, severity, title, remediation, gpu, check, frozenset(kinds), rationale=rationale,
                            example=example)

    return make


def input_rule(rule_id: str, name: str, severity: Severity, title: str, remediation: str, *, rationale: str = "",
               example: str = "") -> InputRule:
    """A catalog entry for what the loader finds."""
    return InputRule(rule_id, severity, title, remediation, False, name, rationale=rationale, example=example)


def bundle_rule(rule_id: str, severity: Severity, title: str, remediation: str, *, gpu: bool = False,
                rationale: str = "", example: str = "") -> Callable[[BundleCheck], BundleRule]:
    """Make a whole-bundle check function a catalog entry."""

    def make(check: BundleCheck) -> BundleRule:
        return BundleRule(rule_id, severity, title, remediation, gpu, check, rationale=rationale, example=example)

    return make
