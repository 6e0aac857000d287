"""HorizontalPodAutoscaler on a vLLM metric served by the Prometheus Adapter."""

from __future__ import annotations

from typing import Any

from vllm_infra.catalog.vllm import metric_for
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata
from vllm_infra.spec.service import VllmServiceSpec
from vllm_infra.units import format_decimal_quantity


def adapter_metric_name(service: VllmServiceSpec) -> str:
    """Custom-metrics API name of the scaling metric (``vllm:x`` -> ``vllm_x``)."""
    assert service.autoscaling is not None
    configured = service.autoscaling.adapter_metric_name
    return configured or metric_for(service.autoscaling.metric, service.image.version).replace(":", "_")


def scaling_behavior(service: VllmServiceSpec) -> dict[str, Any]:
    """Scale up no faster than a pod starts; scale down slowly, one pod at a time."""
    scaling = service.autoscaling
    assert scaling is not None
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": scaling.scale_up_pods,
                                  "periodSeconds": service.scale_up_period}]},
        "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization, "selectPolicy": "Min",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    }


def scale_target_ref(service: VllmServiceSpec, workload: dict[str, Any]) -> dict[str, Any]:
    """Reference to the rendered workload."""
    return {"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": workload["metadata"]["name"]}


def horizontal_autoscaler(service: VllmServiceSpec, context: RenderContext,
                          workload: dict[str, Any]) -> dict[str, Any] | None:
    """``autoscaling/v2`` HPA with a Pods metric, or None without autoscaling."""
    scaling, target = service.autoscaling, service.scaling_target
    if scaling is None or target is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(service, context),
        "spec": {
            "scaleTargetRef": scale_target_ref(service, workload),
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [{"type": "Pods", "pods": {
                "metric": {"name": adapter_metric_name(service)},
                "target": {"type": "AverageValue", "averageValue": format_decimal_quantity(target)}}}],
            "behavior": scaling_behavior(service),
        },
    }
