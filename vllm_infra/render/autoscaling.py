"""Autoscalers on vLLM metrics: an HPA on Prometheus Adapter custom metrics, or a KEDA
ScaledObject querying Prometheus (with an activator for scale-to-zero and cron windows)."""

from __future__ import annotations

from typing import Any

from vllm_infra.catalog.vllm import metric_for
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata
from vllm_infra.spec.autoscaling import AutoscalerBackend
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
    """``autoscaling/v2`` HPA with a Pods metric, or None without an hpa autoscaler."""
    scaling, target = service.autoscaling, service.scaling_target
    if scaling is None or target is None or scaling.backend != AutoscalerBackend.HPA:
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


def _number(value: float) -> str:
    """KEDA thresholds are decimal strings: 5 -> "5", 0.7 -> "0.7"."""
    return str(int(value)) if value == int(value) else repr(value)


def prometheus_query(service: VllmServiceSpec, context: RenderContext) -> str:
    """Sum of the scaling metric over this service's pods (KEDA divides by replicas)."""
    scaling = service.autoscaling
    assert scaling is not None
    labels = scaling.prometheus_labels or {"namespace": context.namespace, "model_name": service.model.name_served}
    matchers = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"sum({metric_for(scaling.metric, service.image.version)}{{{matchers}}})"


def scaled_object(service: VllmServiceSpec, context: RenderContext,
                  workload: dict[str, Any]) -> dict[str, Any] | None:
    """KEDA ScaledObject, or None without a keda autoscaler."""
    scaling, target = service.autoscaling, service.scaling_target
    if scaling is None or target is None or scaling.backend != AutoscalerBackend.KEDA:
        return None
    server = str(scaling.prometheus_url)
    triggers: list[dict[str, Any]] = [{"type": "prometheus", "name": scaling.metric.value, "metadata": {
        "serverAddress": server, "query": prometheus_query(service, context), "threshold": _number(target)}}]
    if scaling.activation:
        triggers.append({"type": "prometheus", "name": "activation", "metadata": {
            "serverAddress": server, "query": scaling.activation.query,
            "threshold": _number(scaling.activation.threshold),
            "activationThreshold": _number(scaling.activation.activation_threshold)}})
    for window in scaling.schedules:
        triggers.append({"type": "cron", "name": window.name, "metadata": {
            "timezone": window.timezone, "start": window.start, "end": window.end,
            "desiredReplicas": str(window.min_replicas)}})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(service, context),
        "spec": {
            "scaleTargetRef": scale_target_ref(service, workload),
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": scaling.scale_down_stabilization,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": service.name,
                                                           "behavior": scaling_behavior(service)}},
            "triggers": triggers,
        },
    }
