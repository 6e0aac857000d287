"""The Deployment that runs single-node replicas."""

from __future__ import annotations

from typing import Any

from vllm_infra.kube import PULUMI_TIMEOUT_ANNOTATION
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import MODEL_ANNOTATION, metadata, selector_labels
from vllm_infra.render.pod import PodRole, pod_template
from vllm_infra.spec.availability import RolloutStrategy
from vllm_infra.spec.service import VllmServiceSpec

ROLLOUT_DEADLINE_MARGIN = 120


def workload_annotations(service: VllmServiceSpec) -> dict[str, str]:
    """Model provenance plus the await budget tools should honour (large models load for long)."""
    return {
        MODEL_ANNOTATION: f"{service.model.id}@{service.model.revision}",
        PULUMI_TIMEOUT_ANNOTATION: str(service.await_budget),
    }


def _strategy(service: VllmServiceSpec) -> dict[str, Any]:
    rollout = service.availability.rollout
    if rollout.strategy == RolloutStrategy.RECREATE:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": service.max_surge, "maxUnavailable": service.max_unavailable}}


def deployment(service: VllmServiceSpec, context: RenderContext) -> dict[str, Any]:
    """Deployment; ``spec.replicas`` is left to the autoscaler when one is configured."""
    selector = selector_labels(service)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "strategy": _strategy(service),
        "progressDeadlineSeconds": service.await_budget + ROLLOUT_DEADLINE_MARGIN,
        "template": pod_template(service, context, selector, PodRole.SERVER),
    }
    if service.autoscaling is None:
        spec["replicas"] = service.availability.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(service, context, annotations=workload_annotations(service)),
        "spec": spec,
    }
