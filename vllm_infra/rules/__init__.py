"""The rule catalog: pure functions over Kubernetes object dicts, shared by the CLI (`vllm-infra
check`) and the Pulumi CrossGuard pack. Importing this package registers every rule."""

from vllm_infra.policy import Profile, Severity
from vllm_infra.rules import (  # noqa: F401  (imported to register rules)
    availability,
    gpu,
    hygiene,
    images,
    multinode,
    network,
    probes,
    rbac,
    resources,
    schema,
    security,
)
from vllm_infra.rules.base import RULES, Rule, RuleContext, Scope, Violation
from vllm_infra.rules.bundle import Bundle
from vllm_infra.rules.engine import WAIVER_PREFIX, RuleFinding, evaluate

__all__ = [
    "RULES",
    "WAIVER_PREFIX",
    "Bundle",
    "Profile",
    "Rule",
    "RuleContext",
    "RuleFinding",
    "Scope",
    "Severity",
    "Violation",
    "evaluate",
]
