"""Autoscalers on vLLM metrics: an HPA on Prometheus Adapter custom metrics, or a KEDA
ScaledObject querying Prometheus (with an activator for scale-to-zero and cron windows)."""

from __future__ import annotations

from typing import Any

from vllm_infra.catalog.vllm_releases import metric_for
from vllm_infra.render.context import RenderContext
from vllm_infra.render.labels import metadata
from vllm_infra.spec.autoscaling import HpaAutoscalingSpec, KedaAutoscalingSpec
from vllm_infra.spec.resolved import ResolvedService
from vllm_infra.vocabulary.autoscalers import HPA, KEDA
from vllm_infra.vocabulary.units import format_decimal_quantity


def scaling_behavior(service: ResolvedService) -> dict[str, Any]:
    """Scale up no faster than a pod starts; scale down slowly, one pod at a time."""
    scaling = service.spec.autoscaling
    assert scaling is not None
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": scaling.scale_up_pods,
                                  "periodSeconds": service.scale_up_period}]},
        "scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization, "selectPolicy": "Min",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    }


def scale_target_ref(workload: dict[str, Any]) -> dict[str, Any]:
    """Reference to the rendered workload."""
    return {"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": workload["metadata"]["name"]}


def horizontal_autoscaler(service: ResolvedService, scaling: HpaAutoscalingSpec, context: RenderContext,
                          workload: dict[str, Any]) -> dict[str, Any]:
    """``autoscaling/v2`` HPA with a Pods metric from the Prometheus Adapter."""
    metric = scaling.adapter_metric_name or metric_for(scaling.metric, service.vllm_version).replace(":", "_")
    target = scaling.resolved_target(service.spec.model.max_num_seqs)
    return {
        "apiVersion": HPA.api_version,
        "kind": HPA.kind,
        "metadata": metadata(service, context),
        "spec": {
            "scaleTargetRef": scale_target_ref(workload),
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [{"type": "Pods", "pods": {
                "metric": {"name": metric},
                "target": {"type": "AverageValue", "averageValue": format_decimal_quantity(target)}}}],
            "behavior": scaling_behavior(service),
        },
    }


def _number(value: float) -> str:
    """KEDA thresholds are decimal strings: 5 -> "5", 0.7 -> "0.7"."""
    return str(int(value)) if value == int(value) else repr(value)


def prometheus_query(service: ResolvedService, scaling: KedaAutoscalingSpec, context: RenderContext) -> str:
    """Sum of the scaling metric over this service's pods (KEDA divides by replicas)."""
    labels = scaling.prometheus_labels or {"namespace": context.namespace,
                                           "model_name": service.spec.model.name_served}
    matchers = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"sum({metric_for(scaling.metric, service.vllm_version)}{{{matchers}}})"


def scaled_object(service: ResolvedService, scaling: KedaAutoscalingSpec, context: RenderContext,
                  workload: dict[str, Any]) -> dict[str, Any]:
    """KEDA ScaledObject with a Prometheus trigger, the activator and cron windows."""
    server = scaling.prometheus_url
    target = scaling.resolved_target(service.spec.model.max_num_seqs)
    triggers: list[dict[str, Any]] = [{"type": "prometheus", "name": scaling.metric.value, "metadata": {
        "serverAddress": server, "query": prometheus_query(service, scaling, context), "threshold": _number(target)}}]
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
        "apiVersion": KEDA.api_version,
        "kind": KEDA.kind,
        "metadata": metadata(service, context),
        "spec": {
            "scaleTargetRef": scale_target_ref(workload),
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": service.scale_to_zero_cooldown,
            "advanced": {"horizontalPodAutoscalerConfig": {"name": service.name,
                                                           "behavior": scaling_behavior(service)}},
            "triggers": triggers,
        },
    }


def autoscaler(service: ResolvedService, context: RenderContext, workload: dict[str, Any]) -> dict[str, Any] | None:
    """The autoscaler of the configured backend, or None without autoscaling."""
    scaling = service.spec.autoscaling
    if isinstance(scaling, HpaAutoscalingSpec):
        return horizontal_autoscaler(service, scaling, context, workload)
    if isinstance(scaling, KedaAutoscalingSpec):
        return scaled_object(service, scaling, context, workload)
    return None
