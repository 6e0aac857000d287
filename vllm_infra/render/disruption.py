"""PodDisruptionBudget that always permits at least one voluntary disruption."""

from __future__ import annotations

from typing import Any

from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata, selector_labels
from vllm_infra.spec.resolved import ResolvedService


def disruption_budget(service: ResolvedService, context: RenderContext) -> dict[str, Any] | None:
    """PDB over all of the service's pods, or None when disabled. Pods stuck loading or
    crash-looping are always evictable (``AlwaysAllow``), so they never pin a node."""
    if not service.disruption_budget_enabled:
        return None
    budget = service.spec.availability.disruption_budget
    spec: dict[str, Any] = {"selector": {"matchLabels": selector_labels(service)},
                            "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    if budget.min_available is not None:
        spec["minAvailable"] = budget.min_available
    else:
        spec["maxUnavailable"] = budget.max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": metadata(service, context), "spec": spec}
