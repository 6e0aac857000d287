"""Autoscaling on the load signals vLLM itself reports (never CPU: GPU pods idle their CPUs)."""

from __future__ import annotations

from pydantic import Field, model_validator

from vllm_infra.catalog.vllm import LoadSignal
from vllm_infra.spec.base import Problem, Seconds, SpecModel, raise_problems

ScalingMetric = LoadSignal
"""The vLLM load signal an autoscaler follows."""


DEFAULT_TARGETS: dict[ScalingMetric, float] = {
    ScalingMetric.QUEUE_DEPTH: 5,
    ScalingMetric.RUNNING_REQUESTS: 0.75,
    ScalingMetric.KV_CACHE_USAGE: 0.7,
}
"""Per-pod targets; running-requests is a fraction of ``model.max_num_seqs``."""


class AutoscalingSpec(SpecModel):
    """A HorizontalPodAutoscaler (``autoscaling/v2``) on a vLLM metric served through the
    Prometheus Adapter (custom metrics API). When present it owns the replica count."""

    min_replicas: int = Field(default=1, ge=1)
    """Fewest replicas. Default: 1."""

    max_replicas: int = Field(ge=1)
    """Most replicas; times GPUs per replica this bounds the GPUs the service can claim. Required."""

    metric: ScalingMetric = ScalingMetric.QUEUE_DEPTH
    """Load signal to scale on. Default: ``queue-depth``."""

    target: float | None = Field(default=None, gt=0)
    """Per-pod average the autoscaler aims for. Default: 5 waiting requests (queue-depth), 0.75 x
    ``max_num_seqs`` running requests (running-requests), 0.7 (kv-cache-usage)."""

    adapter_metric_name: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """Custom-metrics name the Prometheus Adapter exposes. Default: the vLLM metric with
    ``vllm:`` replaced by ``vllm_`` (e.g. ``vllm_num_requests_waiting``)."""

    scale_down_stabilization: Seconds = Field(default=300, ge=0)
    """How long load must stay low before replicas are removed; warm GPU pods are expensive to
    rebuild. Default: 5m."""

    scale_up_pods: int = Field(default=1, ge=1)
    """Pods added per scale-up period. Default: 1."""

    scale_up_period: Seconds | None = Field(default=None, ge=1, le=1800)
    """Window in which at most ``scale_up_pods`` are added; no faster than a pod can start, so
    the queue a new pod will absorb is not counted twice. Default: the startup budget, at most
    30m (the HPA maximum)."""

    @model_validator(mode="after")
    def _check(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise_problems("AutoscalingSpec", [Problem(
                ("min_replicas",), f"min_replicas ({self.min_replicas}) must not exceed max_replicas "
                f"({self.max_replicas})", self.min_replicas)])
        return self
