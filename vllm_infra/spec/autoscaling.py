"""Autoscaling on the load signals vLLM itself reports (never CPU: GPU pods idle their CPUs)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

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

_CRON = re.compile(r"^\S+ \S+ \S+ \S+ \S+$")
Cron = Annotated[str, StringConstraints(pattern=_CRON.pattern)]


class AutoscalerBackend(StrEnum):
    """Which autoscaler reads vLLM's metrics."""

    HPA = "hpa"
    """A HorizontalPodAutoscaler on custom metrics served by the Prometheus Adapter."""
    KEDA = "keda"
    """A KEDA ScaledObject querying Prometheus (needed for scale-to-zero and schedules)."""


class ActivationSpec(SpecModel):
    """What wakes a service scaled to zero. At zero replicas vLLM emits no metrics, so the signal
    must come from in front of it (gateway, router or queue)."""

    query: str = Field(min_length=1)
    """PromQL whose value is above ``activation_threshold`` when requests are waiting, e.g. a
    gateway's request rate for the model. Required."""

    threshold: float = Field(default=1, gt=0)
    """Per-replica target of the same query once the service runs. Default: 1."""

    activation_threshold: float = Field(default=0, ge=0)
    """Value above which the service scales from zero to one. Default: 0."""


class ScheduleSpec(SpecModel):
    """A window (KEDA cron trigger) during which at least ``min_replicas`` run."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][-a-z0-9]*$")]
    """Name of the window, e.g. ``business-hours``. Required."""

    start: Cron
    """Cron expression opening the window, e.g. ``0 8 * * 1-5``. Required."""

    end: Cron
    """Cron expression closing the window, e.g. ``0 19 * * 1-5``. Required."""

    timezone: str = "UTC"
    """IANA time zone of the cron expressions. Default: ``UTC``."""

    min_replicas: int = Field(ge=1)
    """Replicas kept during the window. Required."""


class AutoscalingSpec(SpecModel):
    """Autoscaler on a vLLM metric. When present it owns the replica count."""

    backend: AutoscalerBackend = AutoscalerBackend.HPA
    """``hpa`` (Prometheus Adapter custom metrics) or ``keda`` (Prometheus queries, scale-to-zero,
    schedules). Default: ``hpa``."""

    min_replicas: int = Field(default=1, ge=0)
    """Fewest replicas; 0 (scale-to-zero) needs the keda backend and an ``activation``. Default: 1."""

    max_replicas: int = Field(ge=1)
    """Most replicas; times GPUs per replica this bounds the GPUs the service can claim. Required."""

    metric: ScalingMetric = ScalingMetric.QUEUE_DEPTH
    """Load signal to scale on. Default: ``queue-depth``."""

    target: float | None = Field(default=None, gt=0)
    """Per-pod average the autoscaler aims for. Default: 5 waiting requests (queue-depth), 0.75 x
    ``max_num_seqs`` running requests (running-requests), 0.7 (kv-cache-usage)."""

    adapter_metric_name: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    """hpa: custom-metrics name the Prometheus Adapter exposes. Default: the vLLM metric with
    ``vllm:`` replaced by ``vllm_`` (e.g. ``vllm_num_requests_waiting``)."""

    prometheus_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """keda: Prometheus server address. Default: none (required with keda)."""

    prometheus_labels: dict[str, str] | None = None
    """keda: label matchers selecting this service's series. Default: ``namespace`` and
    ``model_name`` (vLLM labels every metric with the served model name)."""

    activation: ActivationSpec | None = None
    """keda: signal that wakes the service from zero. Default: none (required when
    ``min_replicas`` is 0)."""

    schedules: list[ScheduleSpec] = Field(default_factory=list)
    """keda: windows with a higher minimum (cron triggers). Default: none."""

    scale_down_stabilization: Seconds = Field(default=300, ge=0)
    """How long load must stay low before replicas are removed (also KEDA's cooldown before
    scaling to zero); warm GPU pods are expensive to rebuild. Default: 5m."""

    scale_up_pods: int = Field(default=1, ge=1)
    """Pods added per scale-up period. Default: 1."""

    scale_up_period: Seconds | None = Field(default=None, ge=1, le=1800)
    """Window in which at most ``scale_up_pods`` are added; no faster than a pod can start, so
    the queue a new pod will absorb is not counted twice. Default: the startup budget, at most
    30m (the HPA maximum)."""

    @model_validator(mode="after")
    def _check(self) -> AutoscalingSpec:
        problems = []
        keda = self.backend == AutoscalerBackend.KEDA
        if self.min_replicas > self.max_replicas:
            problems.append(Problem(("min_replicas",), f"min_replicas ({self.min_replicas}) must not exceed "
                                    f"max_replicas ({self.max_replicas})", self.min_replicas))
        if self.min_replicas == 0 and not keda:
            problems.append(Problem(("min_replicas",), "scale-to-zero needs backend: keda (an HPA never goes below "
                                    "1)", self.min_replicas))
        if self.min_replicas == 0 and keda and self.activation is None:
            problems.append(Problem(("activation",), "scale-to-zero needs an activation query: at zero replicas "
                                    "vLLM emits no metrics, so nothing could wake the service", None))
        if keda and self.prometheus_url is None:
            problems.append(Problem(("prometheus_url",), "backend keda needs the Prometheus server address", None))
        for field in ("prometheus_url", "activation", "schedules", "prometheus_labels"):
            if not keda and getattr(self, field):
                problems.append(Problem((field,), "only used with backend keda", str(getattr(self, field))))
        if keda and self.adapter_metric_name is not None:
            problems.append(Problem(("adapter_metric_name",), "only used with backend hpa", self.adapter_metric_name))
        for index, window in enumerate(self.schedules):
            if window.min_replicas > self.max_replicas:
                problems.append(Problem(("schedules", index, "min_replicas"), f"min_replicas ({window.min_replicas}) "
                                        f"exceeds max_replicas ({self.max_replicas})", window.min_replicas))
        raise_problems("AutoscalingSpec", problems)
        return self
