"""The autoscalers vllm-infra renders and reads, one descriptor per backend: where each keeps its
replica bounds, scaling behaviour and metric sources, so rules iterate the backends instead of
knowing each one."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_infra.vocabulary.paths import FieldPath

TYPE_PLACEHOLDER = "{type}"
"""In a metric path: the entry's ``type`` with a lower-case first letter (``Pods`` -> ``pods``)."""


@dataclass(frozen=True)
class AutoscalerKind:
    """One autoscaler backend as it appears in manifests."""

    backend: str
    """Name in the spec (``autoscaling.backend``)."""
    api_version: str
    kind: str
    min_replicas_path: FieldPath
    min_replicas_default: int
    max_replicas_path: FieldPath
    max_replicas_default: int | None
    """None: the field is required."""
    behavior_path: FieldPath
    """The HPA ``behavior`` block (scale-up and scale-down policies)."""
    metrics_path: FieldPath
    """The list of metric sources (HPA metrics, KEDA triggers)."""
    metric_text_paths: tuple[FieldPath, ...]
    """Where, inside one metric source, the metric name or query is."""


HPA = AutoscalerKind(
    backend="hpa", api_version="autoscaling/v2", kind="HorizontalPodAutoscaler",
    min_replicas_path=("spec", "minReplicas"), min_replicas_default=1,
    max_replicas_path=("spec", "maxReplicas"), max_replicas_default=None,
    behavior_path=("spec", "behavior"), metrics_path=("spec", "metrics"),
    metric_text_paths=((TYPE_PLACEHOLDER, "metric", "name"), (TYPE_PLACEHOLDER, "name")),
)
KEDA = AutoscalerKind(
    backend="keda", api_version="keda.sh/v1alpha1", kind="ScaledObject",
    min_replicas_path=("spec", "minReplicaCount"), min_replicas_default=0,
    max_replicas_path=("spec", "maxReplicaCount"), max_replicas_default=100,
    behavior_path=("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior"),
    metrics_path=("spec", "triggers"),
    metric_text_paths=(("metadata", "query"), ("metadata", "metricName")),
)
KEDA_COOLDOWN_DEFAULT = 300
"""KEDA's ``cooldownPeriod`` when unset: seconds after the last active trigger before scaling to zero."""

AUTOSCALERS: dict[str, AutoscalerKind] = {scaler.kind: scaler for scaler in (HPA, KEDA)}
"""Autoscaler descriptors by Kubernetes kind."""
